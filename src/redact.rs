//! Scrubbing sensitive values (sensitive variables and inputs, registry passwords) out of text
//! before it is shown, logged or stored. A leaf: the config, the plan and the swarm code share
//! it, and it imports nothing from the rest of the crate.

/// What a sensitive value is replaced with.
const MASK: &str = "(sensitive)";

/// Replaces every sensitive value in `text` with `(sensitive)`, longest first so a value that
/// contains another is scrubbed whole.
pub fn redact(text: &str, sensitive: &[String]) -> String {
    let mut values: Vec<&String> = sensitive.iter().filter(|value| !value.is_empty()).collect();
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    let mut text = text.to_owned();
    for value in values {
        text = text.replace(value.as_str(), MASK);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::redact;

    fn values(list: &[&str]) -> Vec<String> {
        list.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn every_occurrence_is_replaced() {
        assert_eq!(
            redact(
                "user=admin pass=hunter2 again=hunter2",
                &values(&["hunter2"])
            ),
            "user=admin pass=(sensitive) again=(sensitive)"
        );
    }

    // `pw` inside `pw-long` must not leave `(sensitive)-long` behind.
    #[test]
    fn a_value_containing_another_is_scrubbed_whole() {
        assert_eq!(
            redact("token pw-long and pw", &values(&["pw", "pw-long"])),
            "token (sensitive) and (sensitive)"
        );
    }

    #[test]
    fn empty_values_are_ignored() {
        assert_eq!(redact("plain text", &values(&["", "absent"])), "plain text");
    }
}
