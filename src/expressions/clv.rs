//! Expression plugins that score fitted CLV models inside a lazy query.
