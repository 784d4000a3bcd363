//! Expression plugins for the column cleaners.
