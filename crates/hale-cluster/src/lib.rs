//! Hale supervision trees that span machines, on `ractor_cluster`.
