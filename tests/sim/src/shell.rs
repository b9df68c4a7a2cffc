//! Parsing a command line the way `sh` does for what clients send: quoting (single, double,
//! backslash), parameter expansion of a few variables, `&&`, `||`, `;`, `&`, `|`, `!`, and
//! redirections (`>`, `>>`, `<`, `2>`, `2>&1`, `>&2`).

/// Which shell runs a line: root's login shell (bash on Debian) runs what SSH receives; `sh`
/// is dash. They word their errors differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Bash,
    Dash,
}

impl Flavor {
    /// The prefix of a runtime error: `bash: line 1:` or `sh: 1:`.
    pub fn prefix(self) -> &'static str {
        match self {
            Flavor::Bash => "bash: line 1:",
            Flavor::Dash => "sh: 1:",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Script {
    pub items: Vec<AndOr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connector {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pipeline {
    pub negate: bool,
    pub commands: Vec<Simple>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Simple {
    pub words: Vec<String>,
    pub redirects: Vec<Redirect>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub fd: u32,
    pub op: RedirectOp,
    /// A path, or a file descriptor number for [`RedirectOp::Duplicate`].
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirectOp {
    Write,
    Append,
    Read,
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// `&&`, `||`, `;`, `&`, `|`
    Operator(&'static str),
    Redirect(Option<u32>, &'static str),
}

/// A syntax error, worded for `flavor`, ready for stderr.
pub(crate) fn syntax_error(flavor: Flavor, error: &ParseError) -> String {
    match (flavor, error) {
        (Flavor::Dash, ParseError::Unterminated) => {
            "sh: 1: Syntax error: Unterminated quoted string\n".to_owned()
        }
        (Flavor::Dash, ParseError::Unexpected(token)) => {
            format!("sh: 1: Syntax error: \"{token}\" unexpected\n")
        }
        (Flavor::Dash, ParseError::EndOfFile) => {
            "sh: 1: Syntax error: end of file unexpected\n".to_owned()
        }
        (Flavor::Dash, ParseError::Newline) => {
            "sh: 1: Syntax error: newline unexpected\n".to_owned()
        }
        (Flavor::Bash, ParseError::Unterminated) => {
            "bash: -c: line 1: unexpected EOF while looking for matching `''\n".to_owned()
        }
        (Flavor::Bash, ParseError::Unexpected(token)) => {
            format!("bash: -c: line 1: syntax error near unexpected token `{token}'\n")
        }
        (Flavor::Bash, ParseError::EndOfFile) => {
            "bash: -c: line 2: syntax error: unexpected end of file\n".to_owned()
        }
        (Flavor::Bash, ParseError::Newline) => {
            "bash: -c: line 1: syntax error near unexpected token `newline'\n".to_owned()
        }
        (flavor, ParseError::Unsupported(what)) => {
            format!("{} simulator: {what} is not supported\n", flavor.prefix())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    Unterminated,
    Unexpected(String),
    EndOfFile,
    Newline,
    Unsupported(&'static str),
}

pub(crate) fn parse(line: &str) -> Result<Script, ParseError> {
    let tokens = lex(line)?;
    Parser {
        tokens,
        position: 0,
    }
    .script()
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

fn variable(name: &str) -> Option<&'static str> {
    Some(match name {
        "HOME" => "/root",
        "USER" | "LOGNAME" => "root",
        "PATH" => "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "SHELL" => "/bin/bash",
        "PWD" => "/root",
        "LANG" => "C.UTF-8",
        "?" => "0",
        "$" => "4242",
        _ => return None,
    })
}

fn lex(line: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '\n' => {
                tokens.push(Token::Operator(";"));
                i += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ';' => {
                if chars.get(i + 1) == Some(&';') {
                    return Err(ParseError::Unexpected(";;".to_owned()));
                }
                tokens.push(Token::Operator(";"));
                i += 1;
            }
            '&' => {
                if chars.get(i + 1) == Some(&'&') {
                    tokens.push(Token::Operator("&&"));
                    i += 2;
                } else {
                    tokens.push(Token::Operator("&"));
                    i += 1;
                }
            }
            '|' => {
                if chars.get(i + 1) == Some(&'|') {
                    tokens.push(Token::Operator("||"));
                    i += 2;
                } else {
                    tokens.push(Token::Operator("|"));
                    i += 1;
                }
            }
            '(' | ')' => return Err(ParseError::Unsupported("a subshell")),
            '<' | '>' => {
                let (op, len) = redirect_operator(&chars[i..]);
                tokens.push(Token::Redirect(None, op));
                i += len;
            }
            _ => {
                // An IO number: digits right before `<` or `>`.
                let mut end = i;
                while end < chars.len() && chars[end].is_ascii_digit() {
                    end += 1;
                }
                if end > i && end < chars.len() && matches!(chars[end], '<' | '>') {
                    let fd: String = chars[i..end].iter().collect();
                    let (op, len) = redirect_operator(&chars[end..]);
                    tokens.push(Token::Redirect(fd.parse().ok(), op));
                    i = end + len;
                    continue;
                }
                let word = lex_word(&chars, &mut i)?;
                if let Some(word) = word {
                    tokens.push(Token::Word(word));
                }
            }
        }
    }
    Ok(tokens)
}

fn redirect_operator(chars: &[char]) -> (&'static str, usize) {
    match (chars[0], chars.get(1)) {
        ('>', Some('>')) => (">>", 2),
        ('>', Some('&')) => (">&", 2),
        ('>', Some('|')) => (">", 2),
        ('>', _) => (">", 1),
        ('<', Some('&')) => ("<&", 2),
        _ => ("<", 1),
    }
}

/// One word with quotes removed and variables expanded; `None` when it expanded to nothing.
fn lex_word(chars: &[char], i: &mut usize) -> Result<Option<String>, ParseError> {
    let mut word = String::new();
    let mut quoted = false;
    if chars[*i] == '~' && (chars.len() == *i + 1 || chars[*i + 1] == '/' || is_meta(chars[*i + 1]))
    {
        word.push_str("/root");
        *i += 1;
    }
    while *i < chars.len() {
        let c = chars[*i];
        if is_meta(c) {
            break;
        }
        match c {
            '\'' => {
                quoted = true;
                *i += 1;
                loop {
                    match chars.get(*i) {
                        None => return Err(ParseError::Unterminated),
                        Some('\'') => {
                            *i += 1;
                            break;
                        }
                        Some(&c) => {
                            word.push(c);
                            *i += 1;
                        }
                    }
                }
            }
            '"' => {
                quoted = true;
                *i += 1;
                loop {
                    match chars.get(*i) {
                        None => return Err(ParseError::Unterminated),
                        Some('"') => {
                            *i += 1;
                            break;
                        }
                        Some('\\') => match chars.get(*i + 1) {
                            Some(&next @ ('$' | '`' | '"' | '\\')) => {
                                word.push(next);
                                *i += 2;
                            }
                            Some('\n') => *i += 2,
                            _ => {
                                word.push('\\');
                                *i += 1;
                            }
                        },
                        Some('$') => expand(chars, i, &mut word)?,
                        Some('`') => return Err(ParseError::Unsupported("command substitution")),
                        Some(&c) => {
                            word.push(c);
                            *i += 1;
                        }
                    }
                }
            }
            '\\' => {
                quoted = true;
                match chars.get(*i + 1) {
                    Some('\n') => {}
                    Some(&next) => word.push(next),
                    None => word.push('\\'),
                }
                *i += 2;
            }
            '$' => expand(chars, i, &mut word)?,
            '`' => return Err(ParseError::Unsupported("command substitution")),
            c => {
                word.push(c);
                *i += 1;
            }
        }
    }
    if word.is_empty() && !quoted {
        Ok(None)
    } else {
        Ok(Some(word))
    }
}

/// `$NAME`, `${NAME}`, `${NAME:-default}`, `$?`, `$$`; `$(...)` is refused.
fn expand(chars: &[char], i: &mut usize, word: &mut String) -> Result<(), ParseError> {
    let start = *i + 1;
    match chars.get(start) {
        Some('(') => Err(ParseError::Unsupported("command substitution")),
        Some('{') => {
            let Some(close) = chars[start..].iter().position(|&c| c == '}') else {
                return Err(ParseError::Unterminated);
            };
            let inner: String = chars[start + 1..start + close].iter().collect();
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name.to_owned(), Some(default.to_owned())),
                None => (inner.clone(), None),
            };
            match variable(&name) {
                Some(value) if !value.is_empty() => word.push_str(value),
                _ => word.push_str(default.as_deref().unwrap_or("")),
            }
            *i = start + close + 1;
            Ok(())
        }
        Some(&c) if c == '?' || c == '$' => {
            word.push_str(variable(&c.to_string()).unwrap_or(""));
            *i = start + 1;
            Ok(())
        }
        Some(&c) if c.is_ascii_digit() => {
            *i = start + 1;
            Ok(())
        }
        Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let name: String = chars[start..end].iter().collect();
            word.push_str(variable(&name).unwrap_or(""));
            *i = end;
            Ok(())
        }
        _ => {
            word.push('$');
            *i += 1;
            Ok(())
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn script(mut self) -> Result<Script, ParseError> {
        let mut items = Vec::new();
        loop {
            while let Some(Token::Operator(";" | "&")) = self.peek() {
                if items.is_empty() {
                    let Some(Token::Operator(op)) = self.peek() else {
                        break;
                    };
                    return Err(ParseError::Unexpected((*op).to_owned()));
                }
                self.position += 1;
            }
            if self.peek().is_none() {
                break;
            }
            items.push(self.and_or()?);
            match self.peek() {
                None => break,
                Some(Token::Operator(";" | "&")) => self.position += 1,
                Some(token) => return Err(unexpected(token)),
            }
        }
        Ok(Script { items })
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek() {
                Some(Token::Operator("&&")) => Connector::And,
                Some(Token::Operator("||")) => Connector::Or,
                _ => break,
            };
            self.position += 1;
            if self.peek().is_none() {
                return Err(ParseError::EndOfFile);
            }
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut negate = false;
        if let Some(Token::Word(word)) = self.peek()
            && word == "!"
        {
            negate = true;
            self.position += 1;
        }
        let mut commands = vec![self.simple()?];
        while let Some(Token::Operator("|")) = self.peek() {
            self.position += 1;
            if self.peek().is_none() {
                return Err(ParseError::EndOfFile);
            }
            commands.push(self.simple()?);
        }
        Ok(Pipeline { negate, commands })
    }

    fn simple(&mut self) -> Result<Simple, ParseError> {
        let mut words = Vec::new();
        let mut redirects = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Token::Word(word)) => {
                    words.push(word);
                    self.position += 1;
                }
                Some(Token::Redirect(fd, op)) => {
                    self.position += 1;
                    let target = match self.peek() {
                        Some(Token::Word(word)) => word.clone(),
                        Some(token) => return Err(unexpected(token)),
                        None => return Err(ParseError::Newline),
                    };
                    self.position += 1;
                    let (default_fd, op) = match op {
                        ">" => (1, RedirectOp::Write),
                        ">>" => (1, RedirectOp::Append),
                        ">&" => (1, RedirectOp::Duplicate),
                        "<&" => (0, RedirectOp::Duplicate),
                        _ => (0, RedirectOp::Read),
                    };
                    // `>&FILE` (not a number) is bash's `&>`: both streams to the file.
                    if op == RedirectOp::Duplicate && target.parse::<u32>().is_err() {
                        redirects.push(Redirect {
                            fd: 1,
                            op: RedirectOp::Write,
                            target,
                        });
                        redirects.push(Redirect {
                            fd: 2,
                            op: RedirectOp::Duplicate,
                            target: "1".to_owned(),
                        });
                        continue;
                    }
                    redirects.push(Redirect {
                        fd: fd.unwrap_or(default_fd),
                        op,
                        target,
                    });
                }
                Some(Token::Operator(op)) => {
                    if words.is_empty() && redirects.is_empty() {
                        return Err(ParseError::Unexpected(op.to_owned()));
                    }
                    break;
                }
                None => {
                    if words.is_empty() && redirects.is_empty() {
                        return Err(ParseError::EndOfFile);
                    }
                    break;
                }
            }
        }
        Ok(Simple { words, redirects })
    }
}

fn unexpected(token: &Token) -> ParseError {
    match token {
        Token::Operator(op) => ParseError::Unexpected((*op).to_owned()),
        Token::Redirect(_, op) => ParseError::Unexpected((*op).to_owned()),
        Token::Word(word) => ParseError::Unexpected(word.clone()),
    }
}

/// Whether every word is a `NAME=value` assignment (what precedes a command, like
/// `DEBIAN_FRONTEND=noninteractive apt-get ...`).
pub(crate) fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        let script = parse(line).expect("parses");
        script
            .items
            .iter()
            .flat_map(|item| {
                std::iter::once(&item.first)
                    .chain(item.rest.iter().map(|(_, pipeline)| pipeline))
                    .flat_map(|pipeline| pipeline.commands.iter().map(|c| c.words.clone()))
            })
            .collect()
    }

    // Single quotes with `'\''`, double quotes and backslashes all collapse to literal words.
    #[test]
    fn quoting_removes_quotes_and_keeps_words_whole() {
        assert_eq!(
            words(r#"docker network create --label 'note=$(reboot); rm -rf / `x` '\''q'\''' web"#),
            vec![vec![
                "docker",
                "network",
                "create",
                "--label",
                "note=$(reboot); rm -rf / `x` 'q'",
                "web"
            ]]
        );
        assert_eq!(
            words(r#"echo "a \"b\" $HOME" c\ d '' e"#),
            vec![vec!["echo", "a \"b\" /root", "c d", "", "e"]]
        );
    }

    // `&&`, `||` and redirections parse into an and-or list with redirects on their command.
    #[test]
    fn operators_and_redirections() {
        let script = parse("grep -qxF -- 'a b' /etc/hosts || printf '%s\\n' 'a b' >> /etc/hosts")
            .expect("as set up");
        assert_eq!(script.items.len(), 1);
        let item = &script.items[0];
        assert_eq!(item.rest.len(), 1);
        assert_eq!(item.rest[0].0, Connector::Or);
        let printf = &item.rest[0].1.commands[0];
        assert_eq!(printf.words, vec!["printf", "%s\\n", "a b"]);
        assert_eq!(
            printf.redirects,
            vec![Redirect {
                fd: 1,
                op: RedirectOp::Append,
                target: "/etc/hosts".to_owned()
            }]
        );
        let script = parse("cmd 2>&1 >/dev/null").expect("as set up");
        let command = &script.items[0].first.commands[0];
        assert_eq!(command.redirects[0].op, RedirectOp::Duplicate);
        assert_eq!(command.redirects[0].fd, 2);
    }

    // Broken lines are syntax errors with dash's wording.
    #[test]
    fn syntax_errors() {
        assert_eq!(parse("echo 'abc"), Err(ParseError::Unterminated));
        assert_eq!(
            parse("&& true"),
            Err(ParseError::Unexpected("&&".to_owned()))
        );
        assert_eq!(parse("true &&"), Err(ParseError::EndOfFile));
        assert_eq!(
            syntax_error(Flavor::Dash, &ParseError::Unterminated),
            "sh: 1: Syntax error: Unterminated quoted string\n"
        );
    }
}
