# Notebook kernels of the documentation build (IPYTHONDIR is set by docs/_build/hooks.py):
# Altair charts as PNG images drawn offline by vl-convert, so the pages load nothing
# from another host.
try:
    import altair as _alt

    _alt.renderers.enable("png", scale_factor=1.0)
except ImportError:
    pass
