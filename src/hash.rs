//! Content hashes: how secrets, configs and rendered files are identified without being stored.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `content`.
pub fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `sha256:<hex>`, the form hashes take in state, plans and output.
pub fn sha256_tagged(content: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_standard_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
