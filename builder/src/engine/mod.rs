//! Talking to a container engine through its API socket: which socket (`endpoint`), a
//! minimal HTTP/1.1 client over it (`socket`), loading an image (`load`), and the
//! progress line of a transfer (`progress`). The engine is trusted to load images, not to
//! answer well: everything read from it is bounded.

pub mod endpoint;
pub mod load;
pub mod progress;
pub mod socket;
