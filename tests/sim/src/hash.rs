//! Content hashes, as Docker names images and layers by them.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `content`.
pub fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `sha256:<hex>`.
pub fn sha256_tagged(content: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(content))
}
