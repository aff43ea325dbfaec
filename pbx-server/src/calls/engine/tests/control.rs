//! Call control.
