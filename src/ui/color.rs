//! Plain ANSI colours for the terminal renderer. Output must read the same without them, so
//! colour only ever wraps text that is printed anyway.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Yellow,
    Red,
    BoldYellow,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
            Color::BoldYellow => "1;33",
        }
    }
}

/// `text` wrapped in `color` when `enabled`, else `text` unchanged.
pub fn paint(text: &str, color: Color, enabled: bool) -> String {
    if enabled {
        format!("\x1b[{}m{text}\x1b[0m", color.code())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_is_added_only_when_enabled() {
        // Disabled colour leaves the text byte for byte; enabled colour wraps it and resets.
        assert_eq!(paint("+", Color::Green, false), "+");
        assert_eq!(paint("+", Color::Green, true), "\x1b[32m+\x1b[0m");
    }
}
