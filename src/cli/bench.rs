//! `leadfall bench`: placeholder replaced below.
