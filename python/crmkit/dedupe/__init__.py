"""Identity resolution: find the records of one person and give them one entity id.

The model is Fellegi–Sunter: each candidate pair gets an agreement level per field
(exact, close, different, or missing), u-probabilities come from random record pairs,
m-probabilities and the match prior from EM over the candidate pairs (unsupervised),
and exact agreement on a rare value weighs more than on a common one (term
frequencies). Candidate pairs come from a union of blocking keys (phone, e-mail, the
address without its leading province/city, name sound/pinyin keys combined with
birth date, postcode, ...); a key that would explode into too many pairs is reported
and cut to its rare values (or refused). Comparisons work by character, so Chinese
names compare correctly, with pinyin for homophones. Matched pairs are clustered
into entities: connected components, strongest links first, where a lone weak link
cannot join two groups and a size cap cuts long chains. Everything heavy runs in
Rust with the GIL released.

>>> import polars as pl, crmkit
>>> df = pl.DataFrame({"rid": [1, 2, 3, 4],
...     "name": ["张伟", "张 伟", "李娜", "王芳"],
...     "phone": ["13812345678", "+86 138 1234 5678", "13900001111", "13700002222"],
...     "birth_date": ["1990-01-02", "1990/1/2", "1985-05-06", "1979-09-09"]})
>>> crmkit.dedupe(df, id="rid").select("rid", "entity_id").rows()
[(1, 1), (2, 1), (3, 3), (4, 4)]
"""


from crmkit.dedupe._api import dedupe, dedupe_pairs, link
from crmkit.dedupe._fields import DEFAULT_THRESHOLD, FIELD_KINDS, MAX_FIELD_CHARS, Blocking, infer_fields
from crmkit.dedupe._golden import demo_step, golden_records

__all__ = ["dedupe", "dedupe_pairs", "link", "golden_records", "infer_fields", "FIELD_KINDS"]
