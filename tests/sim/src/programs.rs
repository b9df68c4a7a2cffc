//! The programs a simulated host has (coreutils, grep, systemctl, apt-get, dpkg and docker),
//! each a synchronous function of the locked world.

use sha2::{Digest, Sha256};

use super::docker;
use super::exec::Output;
use super::fs::{Entry, Fs, FsError};
use super::shell::Flavor;
use super::world::{Host, World};

const BUILTINS: &[&str] = &[
    "true", "false", ":", "echo", "printf", "test", "[", "command", "exit", "cd", "set", "export",
    "umask",
];

const PROGRAMS: &[&str] = &[
    "cat",
    "head",
    "tar",
    "tee",
    "mkdir",
    "chmod",
    "chown",
    "mv",
    "cp",
    "rm",
    "touch",
    "ls",
    "grep",
    "uname",
    "hostname",
    "ip",
    "whoami",
    "id",
    "sha256sum",
    "stat",
    "usermod",
    "which",
    "systemctl",
    "apt-get",
    "apt",
    "dpkg",
    "dpkg-query",
    "sudo",
    "sh",
    "dash",
    "bash",
    "env",
    "sleep",
    "timeout",
    "nohup",
];

const DOCKER_PACKAGE_VERSION: &str = "20.10.24+dfsg1-1+b3";

/// `/usr/bin/docker` → `docker`.
pub(crate) fn program_name(word: &str) -> &str {
    for prefix in [
        "/usr/local/bin/",
        "/usr/local/sbin/",
        "/usr/bin/",
        "/usr/sbin/",
        "/bin/",
        "/sbin/",
    ] {
        if let Some(name) = word.strip_prefix(prefix)
            && !name.contains('/')
        {
            return name;
        }
    }
    word
}

fn exists(host: &Host, name: &str) -> bool {
    BUILTINS.contains(&name)
        || PROGRAMS.contains(&name)
        || (name == "docker" && host.docker_installed)
        || (name == "dockerd" && host.docker_installed)
}

/// Whether the command reads its standard input (so the line waits for the client's EOF).
pub(crate) fn reads_stdin(argv: &[String]) -> bool {
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    match program_name(&argv[0]) {
        "cat" => args.iter().all(|arg| arg.starts_with('-') && *arg != "-") || args.contains(&"-"),
        "tee" => true,
        "tar" => tar_words(&args).is_some_and(|words| words.archive == "-"),
        "head" => head_words(&args).1.is_empty(),
        "sha256sum" => !args.iter().any(|arg| !arg.starts_with('-')) || args.contains(&"-"),
        "grep" => {
            let operands: Vec<&&str> = args
                .iter()
                .skip_while(|arg| arg.starts_with('-') && **arg != "--")
                .filter(|arg| **arg != "--")
                .collect();
            operands.len() <= 1
        }
        "docker" => docker::reads_stdin(&args),
        _ => false,
    }
}

/// How many bytes of standard input a command reads, when it stops early: GNU `head -c N`
/// reads exactly N from a pipe.
pub(crate) fn reads_at_most(argv: &[String]) -> Option<usize> {
    if program_name(&argv[0]) != "head" {
        return None;
    }
    head_words(&argv[1..].iter().map(String::as_str).collect::<Vec<_>>()).0
}

/// `head -c N [FILE]`'s words: N (`-c N` or `-cN`) and the file operands.
fn head_words<'a>(args: &[&'a str]) -> (Option<usize>, Vec<&'a str>) {
    let mut count = None;
    let mut operands = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if *word == "-c" {
            count = words.next().and_then(|word| word.parse().ok());
        } else if let Some(text) = word.strip_prefix("-c") {
            count = text.parse().ok();
        } else if !word.starts_with('-') {
            operands.push(*word);
        }
    }
    (count, operands)
}

/// `head -c N [FILE]`: the first N bytes (only `-c` is simulated).
fn head(args: &[&str], fs: &Fs, stdin: Vec<u8>) -> Output {
    let (Some(count), operands) = head_words(args) else {
        return Output::error("head: only `head -c N` is simulated\n", 1);
    };
    let content = match operands.first() {
        None => stdin,
        Some(path) => match fs.read(path) {
            Ok(file) => file.content.clone(),
            Err(error) => {
                return Output::error(
                    format!(
                        "head: cannot open '{path}' for reading: {}\n",
                        error.describe()
                    ),
                    1,
                );
            }
        },
    };
    Output::ok(content[..count.min(content.len())].to_vec())
}

/// `tar -x`'s words as swarmform writes them: `-C DIR`, `-f ARCHIVE`, whether the archive's
/// owners apply (`--same-owner`, root's default, against `--no-same-owner`) and whether its
/// modes do (`-p`, root's default).
struct TarWords<'a> {
    directory: &'a str,
    archive: &'a str,
    same_owner: bool,
    gzip: bool,
}

fn tar_words<'a>(args: &[&'a str]) -> Option<TarWords<'a>> {
    let mut words = TarWords {
        directory: ".",
        archive: "-",
        same_owner: true,
        gzip: false,
    };
    let mut extract = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "-x" | "--extract" => extract = true,
            "-p"
            | "--same-permissions"
            | "--preserve-permissions"
            | "-m"
            | "--touch"
            | "--numeric-owner" => {}
            "--same-owner" => words.same_owner = true,
            "--no-same-owner" => words.same_owner = false,
            "-z" | "--gzip" | "--gunzip" | "--ungzip" => words.gzip = true,
            "-C" | "--directory" => words.directory = args.next()?,
            "-f" | "--file" => words.archive = args.next()?,
            _ => return None,
        }
    }
    extract.then_some(words)
}

/// `tar -x [-z] [-p] [-m] [--same-owner --numeric-owner | --no-same-owner] -C DIR -f -`: the
/// archive's directories and regular files created under DIR (a missing parent as `mkdir -p`
/// makes it, an existing file replaced) with the archive's modes and, under `--same-owner`,
/// its numeric owner 0 as root. Only what swarmform sends is simulated.
fn tar(args: &[&str], fs: &mut Fs, stdin: Vec<u8>, umask: u32) -> Output {
    let Some(words) = tar_words(args) else {
        return Output::error("tar: only `tar -x -C DIR -f -` is simulated\n", 2);
    };
    if words.archive != "-" {
        return Output::error("tar: only an archive on standard input is simulated\n", 2);
    }
    if !fs.is_dir(words.directory) {
        return Output::error(
            format!(
                "tar: {}: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now\n",
                words.directory
            ),
            2,
        );
    }
    let stdin = if words.gzip {
        let mut unpacked = Vec::new();
        if std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(stdin.as_slice()),
            &mut unpacked,
        )
        .is_err()
        {
            // GNU tar's words when its gzip child refuses the input.
            return Output::error(
                "\ngzip: stdin: not in gzip format\ntar: Child returned status 1\ntar: Error is not recoverable: exiting now\n",
                2,
            );
        }
        unpacked
    } else {
        stdin
    };
    let mut archive = tar::Archive::new(stdin.as_slice());
    let Ok(entries) = archive.entries() else {
        return Output::error("tar: This does not look like a tar archive\n", 2);
    };
    let mut out = Output::default();
    for entry in entries {
        let Ok(mut entry) = entry else {
            return Output::error(
                "tar: This does not look like a tar archive\ntar: Exiting with failure status due to previous errors\n",
                2,
            );
        };
        let Ok(name) = entry.path().map(|path| path.display().to_string()) else {
            return Output::error("tar: Damaged tar archive\n", 2);
        };
        if name.starts_with('/') || name.split('/').any(|part| part == "..") {
            out.stderr
                .extend_from_slice(format!("tar: {name}: Member name contains '..'\n").as_bytes());
            out.status = 2;
            continue;
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let owner = if words.same_owner {
            match header.uid() {
                Ok(0) => "root".to_owned(),
                Ok(uid) => uid.to_string(),
                Err(_) => "root".to_owned(),
            }
        } else {
            "root".to_owned()
        };
        let kind = header.entry_type();
        let path = Fs::normalize(&format!("{}/{name}", words.directory));
        let made = if kind.is_dir() {
            fs.mkdir_p_with_umask(&path, umask)
                .map_err(|(_, error)| error)
        } else if kind.is_file() {
            let mut content = Vec::new();
            if std::io::Read::read_to_end(&mut entry, &mut content).is_err() {
                return Output::error("tar: Unexpected EOF in archive\n", 2);
            }
            fs.mkdir_p_with_umask(&Fs::parent(&path), umask)
                .map_err(|(_, error)| error)
                .and_then(|()| {
                    if fs.is_file(&path) {
                        fs.remove_file(&path)?;
                    }
                    fs.write_with_umask(&path, &content, false, umask)
                })
        } else {
            out.stderr.extend_from_slice(
                format!("tar: {name}: only directories and files are simulated\n").as_bytes(),
            );
            out.status = 2;
            continue;
        };
        match made {
            Ok(()) => {
                if let Some((current_mode, current_owner, current_group)) = fs.metadata_mut(&path) {
                    *current_mode = mode;
                    current_owner.clone_from(&owner);
                    current_group.clone_from(&owner);
                }
            }
            Err(error) => {
                out.stderr.extend_from_slice(
                    format!("tar: {name}: Cannot open: {}\n", error.describe()).as_bytes(),
                );
                out.status = 2;
            }
        }
    }
    if out.status != 0 {
        out.stderr
            .extend_from_slice(b"tar: Exiting with failure status due to previous errors\n");
    }
    out
}

pub(crate) fn run(
    world: &mut World,
    host: usize,
    argv: &[String],
    stdin: Option<Vec<u8>>,
    flavor: Flavor,
    umask: u32,
) -> Output {
    let name = program_name(&argv[0]);
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    if !exists(&world.hosts[host], name) {
        return not_found(flavor, &argv[0]);
    }
    let stdin = stdin.unwrap_or_default();
    match name {
        "true" | ":" | "cd" | "set" | "export" | "umask" => Output::default(),
        "false" => Output::status(1),
        "echo" => echo(&args),
        "printf" => printf(&args),
        "test" => test(&args, &world.hosts[host].fs, "test"),
        "[" => test(&args, &world.hosts[host].fs, "["),
        "command" => command(&args, &world.hosts[host]),
        "which" => which(&args, &world.hosts[host]),
        "cat" => cat(&args, &world.hosts[host].fs, stdin),
        "head" => head(&args, &world.hosts[host].fs, stdin),
        "tar" => tar(&args, &mut world.hosts[host].fs, stdin, umask),
        "tee" => tee(&args, &mut world.hosts[host].fs, stdin, umask),
        "mkdir" => mkdir(&args, &mut world.hosts[host].fs, umask),
        "chmod" => chmod(&args, &mut world.hosts[host].fs),
        "chown" => chown(&args, &mut world.hosts[host]),
        "mv" => mv(&args, &mut world.hosts[host].fs),
        "cp" => cp(&args, &mut world.hosts[host].fs, umask),
        "rm" => rm(&args, &mut world.hosts[host].fs),
        "touch" => touch(&args, &mut world.hosts[host].fs, umask),
        "ls" => ls(&args, &world.hosts[host].fs),
        "grep" => grep(&args, &world.hosts[host].fs, stdin),
        "uname" => uname(&args, &world.hosts[host]),
        "hostname" => Output::ok(format!("{}\n", world.hosts[host].hostname)),
        "ip" => ip(&args, &world.hosts[host]),
        "whoami" => Output::ok("root\n"),
        "id" => id(&args),
        "usermod" => usermod(&args, &mut world.hosts[host]),
        "sha256sum" => sha256sum(&args, &world.hosts[host].fs, stdin),
        "stat" => stat(&args, &world.hosts[host].fs),
        "systemctl" => systemctl(&args, world, host),
        "apt-get" | "apt" => apt_get(&args, world, host),
        "dpkg-query" | "dpkg" => dpkg(name, &args, &world.hosts[host]),
        "docker" => docker::run(world, host, &args, stdin),
        "dockerd" => Output::error(
            "failed to start daemon: pid file found, ensure docker is not running or delete /var/run/docker.pid",
            1,
        ),
        _ => not_found(flavor, &argv[0]),
    }
}

fn not_found(flavor: Flavor, name: &str) -> Output {
    if name.contains('/') {
        return match flavor {
            Flavor::Bash => Output::error(
                format!("bash: line 1: {name}: No such file or directory"),
                127,
            ),
            Flavor::Dash => Output::error(format!("sh: 1: {name}: not found"), 127),
        };
    }
    match flavor {
        Flavor::Bash => Output::error(format!("bash: line 1: {name}: command not found"), 127),
        Flavor::Dash => Output::error(format!("sh: 1: {name}: not found"), 127),
    }
}

fn echo(args: &[&str]) -> Output {
    let (newline, words) = match args.first() {
        Some(&"-n") => (false, &args[1..]),
        _ => (true, args),
    };
    let mut out = words.join(" ");
    if newline {
        out.push('\n');
    }
    Output::ok(out)
}

/// Backslash escapes of a printf format or `%b` argument.
fn unescape(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('a') => out.push('\u{7}'),
            Some('0') => out.push('\0'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
}

fn printf(args: &[&str]) -> Output {
    let Some(format) = args.first() else {
        return Output::error("printf: usage: printf [-v var] format [arguments]", 2);
    };
    let mut values = args[1..].iter();
    let mut out = String::new();
    loop {
        let mut consumed = false;
        let mut chars = format.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            unescape(&std::mem::take(&mut literal), &mut out);
            // Flags and width are accepted and ignored.
            while let Some(&next) = chars.peek() {
                if next.is_ascii_digit() || matches!(next, '-' | '.' | '+' | ' ' | '#') {
                    chars.next();
                } else {
                    break;
                }
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('s') => {
                    consumed = true;
                    out.push_str(values.next().copied().unwrap_or(""));
                }
                Some('b') => {
                    consumed = true;
                    unescape(values.next().copied().unwrap_or(""), &mut out);
                }
                Some('d' | 'i' | 'u') => {
                    consumed = true;
                    let value = values.next().copied().unwrap_or("0");
                    out.push_str(&value.parse::<i64>().unwrap_or(0).to_string());
                }
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        unescape(&literal, &mut out);
        if !consumed || values.len() == 0 {
            break;
        }
    }
    Output::ok(out)
}

fn test(args: &[&str], fs: &Fs, name: &str) -> Output {
    let args = if name == "[" {
        match args.split_last() {
            Some((&"]", rest)) => rest,
            _ => return Output::error("sh: 1: [: missing ]", 2),
        }
    } else {
        args
    };
    let (negate, args) = match args.first() {
        Some(&"!") => (true, &args[1..]),
        _ => (false, args),
    };
    let result = match args {
        [] => Some(false),
        [single] => Some(!single.is_empty()),
        [op, operand] => match *op {
            "-e" | "-r" | "-w" => Some(fs.exists(operand)),
            "-x" => Some(match fs.entry(operand) {
                Some(Entry::File(file)) => file.mode & 0o111 != 0,
                Some(Entry::Directory(_)) => true,
                None => false,
            }),
            "-f" => Some(fs.is_file(operand)),
            "-d" => Some(fs.is_dir(operand)),
            "-s" => Some(fs.read(operand).is_ok_and(|file| !file.content.is_empty())),
            "-L" | "-h" => Some(false),
            "-n" => Some(!operand.is_empty()),
            "-z" => Some(operand.is_empty()),
            _ => None,
        },
        [left, op, right] => match *op {
            "=" | "==" => Some(left == right),
            "!=" => Some(left != right),
            "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => {
                match (left.parse::<i64>(), right.parse::<i64>()) {
                    (Ok(left), Ok(right)) => Some(match *op {
                        "-eq" => left == right,
                        "-ne" => left != right,
                        "-lt" => left < right,
                        "-le" => left <= right,
                        "-gt" => left > right,
                        _ => left >= right,
                    }),
                    _ => {
                        return Output::error(format!("sh: 1: {name}: Illegal number: {left}"), 2);
                    }
                }
            }
            _ => None,
        },
        _ => None,
    };
    match result {
        Some(value) => Output::status(u32::from(value == negate)),
        None => Output::error(format!("sh: 1: {name}: unexpected operator"), 2),
    }
}

fn program_path(name: &str) -> String {
    match name {
        "sh" | "dash" | "bash" | "cat" | "mkdir" | "chmod" | "chown" | "mv" | "cp" | "rm"
        | "touch" | "ls" | "grep" | "uname" | "hostname" | "sleep" | "dpkg" | "systemctl" => {
            format!("/usr/bin/{name}")
        }
        _ => format!("/usr/bin/{name}"),
    }
}

fn command(args: &[&str], host: &Host) -> Output {
    match args.first() {
        Some(&"-v") | Some(&"-V") => {
            let mut out = String::new();
            let mut status = 0;
            for name in &args[1..] {
                if BUILTINS.contains(name) {
                    out.push_str(&format!("{name}\n"));
                } else if exists(host, name) {
                    out.push_str(&format!("{}\n", program_path(name)));
                } else {
                    status = 1;
                }
            }
            Output {
                stdout: out.into_bytes(),
                stderr: Vec::new(),
                status,
            }
        }
        _ => Output::default(),
    }
}

fn which(args: &[&str], host: &Host) -> Output {
    let mut out = String::new();
    let mut status = 0;
    for name in args.iter().filter(|arg| !arg.starts_with('-')) {
        if exists(host, name) && !BUILTINS.contains(name) || *name == "true" || *name == "false" {
            out.push_str(&format!("{}\n", program_path(name)));
        } else {
            status = 1;
        }
    }
    Output {
        stdout: out.into_bytes(),
        stderr: Vec::new(),
        status,
    }
}

fn operands<'a>(args: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut ended = false;
    for arg in args {
        if !ended && *arg == "--" {
            ended = true;
        } else if !ended && arg.starts_with('-') && arg.len() > 1 {
            flags.push(*arg);
        } else {
            operands.push(*arg);
        }
    }
    (flags, operands)
}

fn cat(args: &[&str], fs: &Fs, stdin: Vec<u8>) -> Output {
    let (_, files) = operands(args);
    if files.is_empty() {
        return Output::ok(stdin);
    }
    let mut out = Output::default();
    for path in files {
        if path == "-" {
            out.stdout.extend_from_slice(&stdin);
            continue;
        }
        match fs.read(path) {
            Ok(file) => out.stdout.extend_from_slice(&file.content),
            Err(error) => {
                out.stderr
                    .extend_from_slice(format!("cat: {path}: {}\n", error.describe()).as_bytes());
                out.status = 1;
            }
        }
    }
    out
}

fn tee(args: &[&str], fs: &mut Fs, stdin: Vec<u8>, umask: u32) -> Output {
    let (flags, files) = operands(args);
    let append = flags.iter().any(|flag| flag.contains('a'));
    let mut out = Output::ok(stdin.clone());
    for path in files {
        if let Err(error) = fs.write_with_umask(path, &stdin, append, umask) {
            out.stderr
                .extend_from_slice(format!("tee: {path}: {}\n", error.describe()).as_bytes());
            out.status = 1;
        }
    }
    out
}

fn mkdir(args: &[&str], fs: &mut Fs, umask: u32) -> Output {
    let mut parents = false;
    let mut mode = None;
    let mut dirs = Vec::new();
    let mut index = 0;
    while index < args.len() {
        match args[index] {
            "-p" | "--parents" => parents = true,
            "-m" => {
                mode = args
                    .get(index + 1)
                    .and_then(|m| u32::from_str_radix(m, 8).ok());
                index += 1;
            }
            "-pm" | "-mp" => {
                parents = true;
                mode = args
                    .get(index + 1)
                    .and_then(|m| u32::from_str_radix(m, 8).ok());
                index += 1;
            }
            arg if arg.starts_with("--mode=") => {
                mode = u32::from_str_radix(&arg[7..], 8).ok();
            }
            "--" => {}
            arg => dirs.push(arg),
        }
        index += 1;
    }
    if dirs.is_empty() {
        return Output::error(
            "mkdir: missing operand\nTry 'mkdir --help' for more information.",
            1,
        );
    }
    let mut out = Output::default();
    for dir in dirs {
        let failure = if parents {
            if fs.is_file(dir) {
                Some("File exists")
            } else {
                fs.mkdir_p_with_umask(dir, umask)
                    .err()
                    .map(|(_, error)| error.describe())
            }
        } else if fs.exists(dir) {
            Some("File exists")
        } else {
            let parent = Fs::parent(&Fs::normalize(dir));
            if fs.is_dir(&parent) {
                fs.mkdir_p_with_umask(dir, umask)
                    .err()
                    .map(|(_, error)| error.describe())
            } else if fs.is_file(&parent) {
                Some("Not a directory")
            } else {
                Some("No such file or directory")
            }
        };
        match failure {
            Some(reason) => {
                out.stderr.extend_from_slice(
                    format!("mkdir: cannot create directory '{dir}': {reason}\n").as_bytes(),
                );
                out.status = 1;
            }
            None => {
                if let Some(mode) = mode
                    && let Some((current, _, _)) = fs.metadata_mut(dir)
                {
                    *current = mode;
                }
            }
        }
    }
    out
}

/// An octal mode or a symbolic one (`u+x`, `go-w`, `a=r`, `+x`), applied to `current`.
fn parse_mode(text: &str, current: u32) -> Option<u32> {
    if !text.is_empty() && text.chars().all(|c| c.is_digit(8)) {
        return u32::from_str_radix(text, 8)
            .ok()
            .filter(|mode| *mode <= 0o7777);
    }
    let mut mode = current;
    for clause in text.split(',') {
        let op_index = clause.find(['+', '-', '='])?;
        let (who, rest) = clause.split_at(op_index);
        let mut mask = 0;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o700,
                'g' => 0o070,
                'o' => 0o007,
                'a' => 0o777,
                _ => return None,
            };
        }
        if who.is_empty() {
            mask = 0o777;
        }
        let op = rest.chars().next()?;
        let mut bits = 0;
        for c in rest[1..].chars() {
            bits |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' => 0o111,
                _ => return None,
            };
        }
        let bits = bits & mask;
        mode = match op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !mask) | bits,
        };
    }
    Some(mode)
}

fn chmod(args: &[&str], fs: &mut Fs) -> Output {
    let rest: Vec<&str> = args
        .iter()
        .copied()
        .filter(|arg| !matches!(*arg, "-R" | "-f" | "-v" | "--"))
        .collect();
    let Some((mode_text, paths)) = rest.split_first() else {
        return Output::error(
            "chmod: missing operand\nTry 'chmod --help' for more information.",
            1,
        );
    };
    if paths.is_empty() {
        return Output::error(
            format!(
                "chmod: missing operand after '{mode_text}'\nTry 'chmod --help' for more information."
            ),
            1,
        );
    }
    let mut out = Output::default();
    for path in paths {
        match fs.metadata_mut(path) {
            Some((mode, _, _)) => match parse_mode(mode_text, *mode) {
                Some(new_mode) => *mode = new_mode,
                None => {
                    return Output::error(
                        format!(
                            "chmod: invalid mode: '{mode_text}'\nTry 'chmod --help' for more information."
                        ),
                        1,
                    );
                }
            },
            None => {
                out.stderr.extend_from_slice(
                    format!("chmod: cannot access '{path}': No such file or directory\n")
                        .as_bytes(),
                );
                out.status = 1;
            }
        }
    }
    out
}

fn known_user(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_digit())
        || matches!(
            name,
            "root"
                | "daemon"
                | "bin"
                | "sys"
                | "sync"
                | "games"
                | "man"
                | "lp"
                | "mail"
                | "news"
                | "uucp"
                | "proxy"
                | "www-data"
                | "backup"
                | "list"
                | "irc"
                | "nobody"
                | "_apt"
                | "pi"
        )
}

fn known_group(name: &str, host: &Host) -> bool {
    known_user(name)
        || matches!(
            name,
            "adm"
                | "tty"
                | "disk"
                | "kmem"
                | "dialout"
                | "cdrom"
                | "floppy"
                | "tape"
                | "sudo"
                | "audio"
                | "video"
                | "plugdev"
                | "staff"
                | "users"
                | "nogroup"
                | "shadow"
                | "utmp"
        )
        || (name == "docker" && host.docker_installed)
}

/// `usermod -aG GROUP USER` (shadow's messages); only the `docker` group is recorded.
fn usermod(args: &[&str], host: &mut Host) -> Output {
    let (group, user) = match args {
        ["-aG", group, user] | ["-a", "-G", group, user] => (*group, *user),
        _ => {
            return Output::error(
                "Usage: usermod [options] LOGIN\n\nOptions:\n  -a, --append                  append the user to the supplemental GROUPS\n  -G, --groups GROUPS           new list of supplementary GROUPS",
                2,
            );
        }
    };
    if !known_user(user) {
        return Output::error(format!("usermod: user '{user}' does not exist"), 6);
    }
    if !known_group(group, host) {
        return Output::error(format!("usermod: group '{group}' does not exist"), 6);
    }
    if group == "docker" {
        host.docker_group.insert(user.to_owned());
    }
    Output::default()
}

fn chown(args: &[&str], host: &mut Host) -> Output {
    let rest: Vec<&str> = args
        .iter()
        .copied()
        .filter(|arg| !matches!(*arg, "-R" | "-f" | "-v" | "-h" | "--"))
        .collect();
    let Some((spec, paths)) = rest.split_first() else {
        return Output::error(
            "chown: missing operand\nTry 'chown --help' for more information.",
            1,
        );
    };
    if paths.is_empty() {
        return Output::error(
            format!(
                "chown: missing operand after '{spec}'\nTry 'chown --help' for more information."
            ),
            1,
        );
    }
    let (owner, group) = match spec.split_once([':', '.']) {
        Some((owner, group)) => (owner, Some(group)),
        None => (*spec, None),
    };
    if !owner.is_empty() && !known_user(owner) {
        return Output::error(format!("chown: invalid user: '{spec}'"), 1);
    }
    if let Some(group) = group
        && !group.is_empty()
        && !known_group(group, host)
    {
        return Output::error(format!("chown: invalid group: '{spec}'"), 1);
    }
    let mut out = Output::default();
    for path in paths {
        match host.fs.metadata_mut(path) {
            Some((_, current_owner, current_group)) => {
                if !owner.is_empty() {
                    *current_owner = owner.to_owned();
                }
                match group {
                    Some("") if !owner.is_empty() => *current_group = owner.to_owned(),
                    Some("") | None => {}
                    Some(group) => *current_group = group.to_owned(),
                }
            }
            None => {
                out.stderr.extend_from_slice(
                    format!("chown: cannot access '{path}': No such file or directory\n")
                        .as_bytes(),
                );
                out.status = 1;
            }
        }
    }
    out
}

fn mv(args: &[&str], fs: &mut Fs) -> Output {
    let (_, paths) = operands(args);
    if paths.len() < 2 {
        return Output::error(
            "mv: missing file operand\nTry 'mv --help' for more information.",
            1,
        );
    }
    let (target, sources) = paths.split_last().unwrap_or((&"", &[]));
    let mut out = Output::default();
    for source in sources {
        if let Err(error) = fs.rename(source, target) {
            let message = match error {
                FsError::NotFound if !fs.exists(source) => {
                    format!("mv: cannot stat '{source}': No such file or directory\n")
                }
                error => format!(
                    "mv: cannot move '{source}' to '{target}': {}\n",
                    error.describe()
                ),
            };
            out.stderr.extend_from_slice(message.as_bytes());
            out.status = 1;
        }
    }
    out
}

fn cp(args: &[&str], fs: &mut Fs, umask: u32) -> Output {
    let (_, paths) = operands(args);
    if paths.len() < 2 {
        return Output::error(
            "cp: missing file operand\nTry 'cp --help' for more information.",
            1,
        );
    }
    let source = paths[0];
    let mut target = Fs::normalize(paths[1]);
    if fs.is_dir(&target) {
        target = format!(
            "{}/{}",
            target.trim_end_matches('/'),
            Fs::base_name(&Fs::normalize(source))
        );
    }
    match fs.read(source).cloned() {
        Ok(file) => match fs.write_with_umask(&target, &file.content, false, umask) {
            Ok(()) => Output::default(),
            Err(error) => Output::error(
                format!(
                    "cp: cannot create regular file '{}': {}",
                    paths[1],
                    error.describe()
                ),
                1,
            ),
        },
        Err(FsError::IsADirectory) => Output::error(
            format!("cp: -r not specified; omitting directory '{source}'"),
            1,
        ),
        Err(_) => Output::error(
            format!("cp: cannot stat '{source}': No such file or directory"),
            1,
        ),
    }
}

fn rm(args: &[&str], fs: &mut Fs) -> Output {
    let (flags, paths) = operands(args);
    let force = flags.iter().any(|flag| flag.contains('f'));
    let recursive = flags
        .iter()
        .any(|flag| flag.contains('r') || flag.contains('R'));
    let mut out = Output::default();
    if paths.is_empty() && !force {
        return Output::error(
            "rm: missing operand\nTry 'rm --help' for more information.",
            1,
        );
    }
    for path in paths {
        let normalized = Fs::normalize(path);
        if fs.is_dir(&normalized) {
            if recursive {
                let prefix = format!("{normalized}/");
                fs.files.retain(|file, _| !file.starts_with(&prefix));
                fs.dirs
                    .retain(|dir, _| *dir != normalized && !dir.starts_with(&prefix));
            } else {
                out.stderr.extend_from_slice(
                    format!("rm: cannot remove '{path}': Is a directory\n").as_bytes(),
                );
                out.status = 1;
            }
            continue;
        }
        if fs.remove_file(&normalized).is_err() && !force {
            out.stderr.extend_from_slice(
                format!("rm: cannot remove '{path}': No such file or directory\n").as_bytes(),
            );
            out.status = 1;
        }
    }
    out
}

fn touch(args: &[&str], fs: &mut Fs, umask: u32) -> Output {
    let (_, paths) = operands(args);
    let mut out = Output::default();
    for path in paths {
        if fs.exists(path) {
            continue;
        }
        if let Err(error) = fs.write_with_umask(path, b"", false, umask) {
            out.stderr.extend_from_slice(
                format!("touch: cannot touch '{path}': {}\n", error.describe()).as_bytes(),
            );
            out.status = 1;
        }
    }
    out
}

fn ls(args: &[&str], fs: &Fs) -> Output {
    let (_, paths) = operands(args);
    let paths = if paths.is_empty() { vec!["."] } else { paths };
    let mut out = Output::default();
    for path in paths {
        let normalized = Fs::normalize(path);
        if fs.is_file(&normalized) {
            out.stdout.extend_from_slice(format!("{path}\n").as_bytes());
            continue;
        }
        if !fs.is_dir(&normalized) {
            out.stderr.extend_from_slice(
                format!("ls: cannot access '{path}': No such file or directory\n").as_bytes(),
            );
            out.status = 2;
            continue;
        }
        let prefix = if normalized == "/" {
            "/".to_owned()
        } else {
            format!("{normalized}/")
        };
        let mut names: Vec<&str> = fs
            .files
            .keys()
            .chain(fs.dirs.keys())
            .filter(|entry| entry.starts_with(&prefix) && entry.len() > prefix.len())
            .map(|entry| &entry[prefix.len()..])
            .filter(|rest| !rest.contains('/'))
            .collect();
        names.sort_unstable();
        for name in names {
            out.stdout.extend_from_slice(format!("{name}\n").as_bytes());
        }
    }
    out
}

fn grep(args: &[&str], fs: &Fs, stdin: Vec<u8>) -> Output {
    let mut quiet = false;
    let mut whole_line = false;
    let mut invert = false;
    let mut count = false;
    let mut ignore_case = false;
    let mut silent = false;
    let mut fixed = false;
    let mut operands_list = Vec::new();
    let mut ended = false;
    let mut pattern: Option<String> = None;
    let mut index = 0;
    while index < args.len() {
        let arg = args[index];
        if !ended && arg == "--" {
            ended = true;
        } else if !ended && arg == "-e" {
            pattern = args.get(index + 1).map(|p| (*p).to_owned());
            index += 1;
        } else if !ended && arg.starts_with('-') && arg.len() > 1 {
            for c in arg[1..].chars() {
                match c {
                    'q' => quiet = true,
                    'x' => whole_line = true,
                    'v' => invert = true,
                    'c' => count = true,
                    'i' => ignore_case = true,
                    's' => silent = true,
                    'F' => fixed = true,
                    'E' | 'G' => {}
                    other => {
                        return Output::error(
                            format!(
                                "grep: invalid option -- '{other}'\nUsage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information."
                            ),
                            2,
                        );
                    }
                }
            }
        } else {
            operands_list.push(arg);
        }
        index += 1;
    }
    let pattern = match pattern {
        Some(pattern) => pattern,
        None => {
            if operands_list.is_empty() {
                return Output::error(
                    "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.",
                    2,
                );
            }
            operands_list.remove(0).to_owned()
        }
    };
    let matcher = |line: &str| -> bool {
        let (line, pattern) = if ignore_case {
            (line.to_lowercase(), pattern.to_lowercase())
        } else {
            (line.to_owned(), pattern.clone())
        };
        let hit = if fixed {
            if whole_line {
                line == pattern
            } else {
                line.contains(&pattern)
            }
        } else {
            let anchored_start = pattern.starts_with('^');
            let anchored_end = pattern.ends_with('$') && pattern.len() > 1;
            let core = pattern
                .trim_start_matches('^')
                .strip_suffix('$')
                .unwrap_or(pattern.trim_start_matches('^'));
            if whole_line || (anchored_start && anchored_end) {
                line == core
            } else if anchored_start {
                line.starts_with(core)
            } else if anchored_end {
                line.ends_with(core)
            } else {
                line.contains(core)
            }
        };
        hit != invert
    };
    let mut sources: Vec<(String, Vec<u8>)> = Vec::new();
    let mut out = Output::default();
    let mut error = false;
    if operands_list.is_empty() {
        sources.push(("(standard input)".to_owned(), stdin));
    } else {
        for path in &operands_list {
            match fs.read(path) {
                Ok(file) => sources.push(((*path).to_owned(), file.content.clone())),
                Err(cause) => {
                    error = true;
                    if !silent {
                        out.stderr.extend_from_slice(
                            format!("grep: {path}: {}\n", cause.describe()).as_bytes(),
                        );
                    }
                }
            }
        }
    }
    let many = sources.len() > 1;
    let mut matched = false;
    for (name, content) in &sources {
        let text = String::from_utf8_lossy(content);
        let mut hits = 0;
        for line in text.lines() {
            if matcher(line) {
                hits += 1;
                matched = true;
                if !quiet && !count {
                    let prefix = if many {
                        format!("{name}:")
                    } else {
                        String::new()
                    };
                    out.stdout
                        .extend_from_slice(format!("{prefix}{line}\n").as_bytes());
                }
            }
        }
        if count && !quiet {
            let prefix = if many {
                format!("{name}:")
            } else {
                String::new()
            };
            out.stdout
                .extend_from_slice(format!("{prefix}{hits}\n").as_bytes());
        }
    }
    out.status = if quiet && matched {
        0
    } else if error {
        2
    } else if matched {
        0
    } else {
        1
    };
    out
}

/// One address of a simulated interface.
struct SimAddress {
    family: &'static str,
    local: String,
    prefix: u8,
    broadcast: Option<String>,
    scope: &'static str,
    dynamic: bool,
}

/// One simulated interface: loopback, the host's own, and docker0 once Docker is installed.
struct SimInterface {
    name: &'static str,
    flags: &'static [&'static str],
    mtu: u32,
    qdisc: &'static str,
    state: &'static str,
    link_type: &'static str,
    mac: String,
    addresses: Vec<SimAddress>,
}

fn interfaces(host: &Host) -> Vec<SimInterface> {
    let forever = |family, local: &str, prefix, scope| SimAddress {
        family,
        local: local.to_owned(),
        prefix,
        broadcast: None,
        scope,
        dynamic: false,
    };
    let mut list = vec![SimInterface {
        name: "lo",
        flags: &["LOOPBACK", "UP", "LOWER_UP"],
        mtu: 65536,
        qdisc: "noqueue",
        state: "UNKNOWN",
        link_type: "loopback",
        mac: "00:00:00:00:00:00".to_owned(),
        addresses: vec![
            forever("inet", "127.0.0.1", 8, "host"),
            forever("inet6", "::1", 128, "host"),
        ],
    }];
    let octets = match host.address {
        std::net::IpAddr::V4(address) => address.octets(),
        std::net::IpAddr::V6(_) => [0, 0, 0, 0],
    };
    let mut own = SimAddress {
        broadcast: Some(format!("{}.{}.{}.255", octets[0], octets[1], octets[2])),
        dynamic: host.dynamic_address,
        ..forever("inet", &host.address.to_string(), 24, "global")
    };
    if host.address.is_ipv6() {
        own.broadcast = None;
        own.family = "inet6";
        own.prefix = 64;
    }
    list.push(SimInterface {
        name: "eth0",
        flags: &["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        mtu: 1500,
        qdisc: "fq_codel",
        state: "UP",
        link_type: "ether",
        mac: format!(
            "52:54:00:{:02x}:{:02x}:{:02x}",
            octets[1], octets[2], octets[3]
        ),
        addresses: vec![own],
    });
    if host.docker_installed {
        list.push(SimInterface {
            name: "docker0",
            flags: &["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
            mtu: 1500,
            qdisc: "noqueue",
            state: "DOWN",
            link_type: "ether",
            mac: format!("02:42:ac:11:{:02x}:{:02x}", octets[2], octets[3]),
            addresses: vec![SimAddress {
                broadcast: Some("172.17.255.255".to_owned()),
                ..forever("inet", "172.17.0.1", 16, "global")
            }],
        });
    }
    list
}

/// `ip [-j] addr show`, as iproute2 6.1 prints it. A DHCP lease carries `"dynamic": true` and
/// a finite lifetime.
fn ip(args: &[&str], host: &Host) -> Output {
    let mut json = false;
    let mut words = Vec::new();
    for arg in args {
        match *arg {
            "-j" | "-json" | "--json" => json = true,
            option if option.starts_with('-') => {
                return Output::error(
                    format!("Option \"{option}\" is unknown, try \"ip -help\"."),
                    255,
                );
            }
            word => words.push(word),
        }
    }
    match words.first() {
        Some(&("a" | "addr" | "address")) => {}
        Some(object) => {
            return Output::error(
                format!("Object \"{object}\" is unknown, try \"ip help\"."),
                255,
            );
        }
        None => {
            return Output::error("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }", 255);
        }
    }
    if let Some(command) = words.get(1)
        && !matches!(*command, "show" | "list" | "ls" | "lst")
    {
        return Output::error(
            format!("Command \"{command}\" is unknown, try \"ip address help\"."),
            255,
        );
    }
    let lease = 86_234u32;
    let interfaces = interfaces(host);
    if json {
        let list: Vec<serde_json::Value> = interfaces
            .iter()
            .enumerate()
            .map(|(index, interface)| {
                let addresses: Vec<serde_json::Value> = interfaces[index]
                    .addresses
                    .iter()
                    .map(|address| {
                        let mut info = serde_json::Map::new();
                        info.insert("family".into(), address.family.into());
                        info.insert("local".into(), address.local.clone().into());
                        info.insert("prefixlen".into(), address.prefix.into());
                        if let Some(broadcast) = &address.broadcast {
                            info.insert("broadcast".into(), broadcast.clone().into());
                        }
                        info.insert("scope".into(), address.scope.into());
                        if address.dynamic {
                            info.insert("dynamic".into(), true.into());
                        }
                        if address.family == "inet" {
                            info.insert("label".into(), interface.name.into());
                        }
                        let life = if address.dynamic { lease } else { u32::MAX };
                        info.insert("valid_life_time".into(), life.into());
                        info.insert("preferred_life_time".into(), life.into());
                        serde_json::Value::Object(info)
                    })
                    .collect();
                serde_json::json!({
                    "ifindex": index + 1,
                    "ifname": interface.name,
                    "flags": interface.flags,
                    "mtu": interface.mtu,
                    "qdisc": interface.qdisc,
                    "operstate": interface.state,
                    "group": "default",
                    "txqlen": 1000,
                    "link_type": interface.link_type,
                    "address": interface.mac,
                    "broadcast": if interface.link_type == "loopback" { "00:00:00:00:00:00" } else { "ff:ff:ff:ff:ff:ff" },
                    "addr_info": addresses,
                })
            })
            .collect();
        return Output::ok(format!("{}\n", serde_json::Value::Array(list)));
    }
    let mut out = String::new();
    for (index, interface) in interfaces.iter().enumerate() {
        out.push_str(&format!(
            "{}: {}: <{}> mtu {} qdisc {} state {} group default qlen 1000\n",
            index + 1,
            interface.name,
            interface.flags.join(","),
            interface.mtu,
            interface.qdisc,
            interface.state
        ));
        out.push_str(&format!(
            "    link/{} {} brd {}\n",
            interface.link_type,
            interface.mac,
            if interface.link_type == "loopback" {
                "00:00:00:00:00:00"
            } else {
                "ff:ff:ff:ff:ff:ff"
            }
        ));
        for address in &interface.addresses {
            let mut line = format!(
                "    {} {}/{}",
                address.family, address.local, address.prefix
            );
            if let Some(broadcast) = &address.broadcast {
                line.push_str(&format!(" brd {broadcast}"));
            }
            line.push_str(&format!(" scope {}", address.scope));
            if address.dynamic {
                line.push_str(" dynamic");
            }
            if address.family == "inet" {
                line.push_str(&format!(" {}", interface.name));
            }
            out.push_str(&line);
            out.push('\n');
            if address.dynamic {
                out.push_str(&format!(
                    "       valid_lft {lease}sec preferred_lft {lease}sec\n"
                ));
            } else {
                out.push_str("       valid_lft forever preferred_lft forever\n");
            }
        }
    }
    Output::ok(out)
}

fn kernel_release(host: &Host) -> &'static str {
    if host.arch == "aarch64" {
        "6.1.0-18-arm64"
    } else {
        "6.1.0-18-amd64"
    }
}

fn uname(args: &[&str], host: &Host) -> Output {
    let mut parts = Vec::new();
    let flags: String = args
        .iter()
        .filter(|arg| arg.starts_with('-'))
        .map(|arg| arg.trim_start_matches('-'))
        .collect();
    let all = flags.contains('a');
    if flags.is_empty() || flags.contains('s') || all {
        parts.push("Linux".to_owned());
    }
    if flags.contains('n') || all {
        parts.push(host.hostname.clone());
    }
    if flags.contains('r') || all {
        parts.push(kernel_release(host).to_owned());
    }
    if flags.contains('v') || all {
        parts.push("#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)".to_owned());
    }
    if flags.contains('m') || all {
        parts.push(host.arch.clone());
    }
    if all {
        parts.push("GNU/Linux".to_owned());
    }
    Output::ok(format!("{}\n", parts.join(" ")))
}

fn id(args: &[&str]) -> Output {
    match args {
        ["-u"] | ["-g"] => Output::ok("0\n"),
        ["-un"] | ["-nu"] | ["-u", "-n"] | ["-n", "-u"] | ["-gn"] | ["-ng"] => Output::ok("root\n"),
        _ => Output::ok("uid=0(root) gid=0(root) groups=0(root)\n"),
    }
}

fn sha256sum(args: &[&str], fs: &Fs, stdin: Vec<u8>) -> Output {
    let (_, files) = operands(args);
    let mut out = Output::default();
    let files = if files.is_empty() { vec!["-"] } else { files };
    for path in files {
        let content = if path == "-" {
            stdin.clone()
        } else {
            match fs.read(path) {
                Ok(file) => file.content.clone(),
                Err(error) => {
                    out.stderr.extend_from_slice(
                        format!("sha256sum: {path}: {}\n", error.describe()).as_bytes(),
                    );
                    out.status = 1;
                    continue;
                }
            }
        };
        let digest = Sha256::digest(&content);
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        out.stdout
            .extend_from_slice(format!("{hex}  {path}\n").as_bytes());
    }
    out
}

fn stat(args: &[&str], fs: &Fs) -> Output {
    let mut format = None;
    let mut paths = Vec::new();
    let mut index = 0;
    while index < args.len() {
        match args[index] {
            "-c" | "--format" | "--printf" => {
                format = args.get(index + 1).copied();
                index += 1;
            }
            arg if arg.starts_with("--format=") => format = Some(&arg[9..]),
            "-L" => {}
            arg => paths.push(arg),
        }
        index += 1;
    }
    let mut out = Output::default();
    for path in paths {
        let Some(entry) = fs.entry(path) else {
            out.stderr.extend_from_slice(
                format!("stat: cannot statx '{path}': No such file or directory\n").as_bytes(),
            );
            out.status = 1;
            continue;
        };
        let (mode, owner, group, size, kind) = match entry {
            Entry::File(file) => (
                file.mode,
                file.owner.as_str(),
                file.group.as_str(),
                file.content.len(),
                if file.content.is_empty() {
                    "regular empty file"
                } else {
                    "regular file"
                },
            ),
            Entry::Directory(dir) => (
                dir.mode,
                dir.owner.as_str(),
                dir.group.as_str(),
                4096,
                "directory",
            ),
        };
        let format = format.unwrap_or("%n %s %a %U %G");
        let mut line = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                line.push(c);
                continue;
            }
            match chars.next() {
                Some('a') => line.push_str(&format!("{mode:o}")),
                Some('U') => line.push_str(owner),
                Some('G') => line.push_str(group),
                Some('u') | Some('g') => line.push('0'),
                Some('s') => line.push_str(&size.to_string()),
                Some('n') => line.push_str(path),
                Some('F') => line.push_str(kind),
                Some('%') => line.push('%'),
                Some(other) => {
                    line.push('?');
                    let _ = other;
                }
                None => {}
            }
        }
        out.stdout.extend_from_slice(format!("{line}\n").as_bytes());
    }
    out
}

fn unit_name(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

/// Debian's docker.service: `StartLimitBurst=3`, `StartLimitIntervalSec=60` (20.10 to 28).
const DOCKER_START_BURST: usize = 3;
const DOCKER_START_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

fn systemctl(args: &[&str], world: &mut World, index: usize) -> Output {
    let args: Vec<&str> = args
        .iter()
        .copied()
        .filter(|arg| {
            !matches!(
                *arg,
                "-q" | "--quiet" | "--no-pager" | "--no-block" | "--system"
            )
        })
        .collect();
    let Some((verb, rest)) = args.split_first() else {
        return Output::error("systemctl: sim: listing units is not supported", 1);
    };
    let now = rest.contains(&"--now");
    let units: Vec<&str> = rest
        .iter()
        .copied()
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let host = &mut world.hosts[index];
    if *verb == "daemon-reload" {
        host.systemd_loaded = host.systemd_drop_ins();
        return Output::default();
    }
    if *verb == "reset-failed" {
        match units.first().map(|unit| unit_name(unit)) {
            Some("docker") | None => host.docker_starts.clear(),
            Some(unit) if !matches!(unit, "docker.socket" | "containerd") => {
                return Output::error(
                    format!(
                        "Failed to reset failed state of unit {unit}.service: Unit {unit}.service not loaded."
                    ),
                    1,
                );
            }
            Some(_) => {}
        }
        return Output::default();
    }
    let Some(unit) = units.first().map(|unit| unit_name(unit)) else {
        return Output::error("Too few arguments.", 1);
    };
    let known = matches!(unit, "docker" | "docker.socket" | "containerd");
    let installed = host.docker_installed;
    match *verb {
        "is-active" => {
            let active = known && installed && (unit != "docker" || host.dockerd_running);
            if active {
                Output::ok("active\n")
            } else {
                Output {
                    stdout: b"inactive\n".to_vec(),
                    stderr: Vec::new(),
                    status: if known && installed { 3 } else { 4 },
                }
            }
        }
        "is-enabled" => {
            if known && installed {
                Output::ok("enabled\n")
            } else {
                Output::error(
                    format!(
                        "Failed to get unit file state for {unit}.service: No such file or directory"
                    ),
                    1,
                )
            }
        }
        "start" | "restart" | "reload" | "try-restart" | "reload-or-restart" | "enable"
        | "reenable" => {
            if !(known && installed) {
                return if verb.contains("enable") {
                    Output::error(
                        format!("Failed to enable unit: Unit file {unit}.service does not exist."),
                        1,
                    )
                } else {
                    Output::error(
                        format!("Failed to {verb} {unit}.service: Unit {unit}.service not found."),
                        5,
                    )
                };
            }
            if unit != "docker" || (verb.contains("enable") && !now) {
                return Output::default();
            }
            let mut out = Output::default();
            let on_disk = host.systemd_drop_ins();
            if on_disk != host.systemd_loaded {
                out = out.with_stderr(
                    "Warning: The unit file, source configuration file or drop-ins of docker.service changed on disk. Run 'systemctl daemon-reload' to reload units.\n",
                );
            }
            if (*verb == "start" || verb.contains("enable")) && host.dockerd_running {
                return out;
            }
            // systemd's start limit: a restart stops dockerd, then refuses the start.
            let started = std::time::Instant::now();
            host.docker_starts
                .retain(|at| started.duration_since(*at) < DOCKER_START_INTERVAL);
            if host.docker_starts.len() >= DOCKER_START_BURST {
                host.dockerd_running = false;
                docker::swarm::refresh(world);
                return out
                    .with_stderr(
                        "Job for docker.service failed because start of the service was attempted too often.\nSee \"systemctl status docker.service\" and \"journalctl -xeu docker.service\" for details.\nTo force a start use \"systemctl reset-failed docker.service\"\nfollowed by \"systemctl start docker.service\" again.\n",
                    )
                    .with_status(1);
            }
            host.docker_starts.push(started);
            match start_dockerd(host) {
                Ok(()) => {
                    docker::swarm::lock_after_restart(world, index);
                    docker::swarm::refresh(world);
                    out
                }
                Err(()) => {
                    host.dockerd_running = false;
                    docker::swarm::refresh(world);
                    out.with_stderr(
                        "Job for docker.service failed because the control process exited with error code.\nSee \"systemctl status docker.service\" and \"journalctl -xeu docker.service\" for details.\n",
                    )
                    .with_status(1)
                }
            }
        }
        "stop" | "disable" => {
            if !(known && installed) {
                return if *verb == "disable" {
                    Output::error(
                        format!("Failed to disable unit: Unit file {unit}.service does not exist."),
                        1,
                    )
                } else {
                    Output::error(
                        format!("Failed to stop {unit}.service: Unit {unit}.service not loaded."),
                        5,
                    )
                };
            }
            if unit == "docker" && (*verb == "stop" || now) {
                host.dockerd_running = false;
                docker::swarm::refresh(world);
            }
            Output::default()
        }
        "status" => {
            if !(known && installed) {
                return Output::error(format!("Unit {unit}.service could not be found."), 4);
            }
            let active = unit != "docker" || host.dockerd_running;
            let state = if active {
                "active (running)"
            } else {
                "inactive (dead)"
            };
            Output {
                stdout: format!(
                    "● {unit}.service - Docker Application Container Engine\n     Loaded: loaded (/lib/systemd/system/{unit}.service; enabled; preset: enabled)\n     Active: {state}\n"
                )
                .into_bytes(),
                stderr: Vec::new(),
                status: if active { 0 } else { 3 },
            }
        }
        other => Output::error(format!("Unknown command verb {other}."), 1),
    }
}

/// Starts dockerd the way the packaged unit would: `/etc/docker/daemon.json` must be a JSON
/// object, and `hosts` in it conflicts with the unit's `-H fd://` unless a loaded drop-in
/// replaces `ExecStart`.
fn start_dockerd(host: &mut Host) -> Result<(), ()> {
    let config = match host.fs.read("/etc/docker/daemon.json") {
        Ok(file) => match serde_json::from_slice::<serde_json::Value>(&file.content) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            _ => return Err(()),
        },
        Err(_) => serde_json::Value::Object(Default::default()),
    };
    if config.get("hosts").is_some() {
        let overridden = host.systemd_loaded.values().any(|content| {
            let text = String::from_utf8_lossy(content);
            text.lines()
                .filter(|line| line.trim_start().starts_with("ExecStart="))
                .any(|line| line.trim() != "ExecStart=" && !line.contains("-H fd://"))
        });
        if !overridden {
            return Err(());
        }
    }
    host.daemon_config = config;
    host.dockerd_running = true;
    Ok(())
}

const KNOWN_PACKAGES: &[&str] = &[
    "docker.io",
    "containerd",
    "runc",
    "tini",
    "ca-certificates",
    "curl",
    "gnupg",
    "apt-transport-https",
    "lsb-release",
    "python3",
    "jq",
    "sudo",
    "openssh-client",
];

fn apt_get(args: &[&str], world: &mut World, index: usize) -> Output {
    let (flags, operands_list) = operands(args);
    let yes = flags
        .iter()
        .any(|flag| matches!(*flag, "-y" | "--yes" | "--assume-yes" | "-qy" | "-yq"));
    let Some((verb, packages)) = operands_list.split_first() else {
        return Output::error("E: No command given", 100);
    };
    match *verb {
        "update" => Output::ok(
            "Hit:1 http://deb.debian.org/debian bookworm InRelease\nHit:2 http://deb.debian.org/debian bookworm-updates InRelease\nHit:3 http://deb.debian.org/debian-security bookworm-security InRelease\nReading package lists...\n",
        ),
        "install" => {
            if let Some(unknown) = packages.iter().find(|package| {
                let name = package.split('=').next().unwrap_or(package);
                !KNOWN_PACKAGES.contains(&name)
            }) {
                return Output {
                    stdout: b"Reading package lists...\nBuilding dependency tree...\nReading state information...\n".to_vec(),
                    stderr: format!("E: Unable to locate package {unknown}\n").into_bytes(),
                    status: 100,
                };
            }
            let host = &mut world.hosts[index];
            let wants_docker = packages
                .iter()
                .any(|package| package.split('=').next() == Some("docker.io"));
            let mut out = String::from(
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n",
            );
            if !wants_docker || host.docker_installed {
                if wants_docker {
                    out.push_str(&format!(
                        "docker.io is already the newest version ({DOCKER_PACKAGE_VERSION}).\n"
                    ));
                }
                out.push_str("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n");
                return Output::ok(out);
            }
            out.push_str("The following NEW packages will be installed:\n  containerd docker.io runc tini\n0 upgraded, 4 newly installed, 0 to remove and 0 not upgraded.\nNeed to get 46.6 MB of archives.\nAfter this operation, 178 MB of additional disk space will be used.\n");
            if !yes {
                out.push_str("Do you want to continue? [Y/n] Abort.\n");
                return Output {
                    stdout: out.into_bytes(),
                    stderr: Vec::new(),
                    status: 1,
                };
            }
            out.push_str(&format!(
                "Setting up containerd (1.6.20~ds1-1+b1) ...\nSetting up docker.io ({DOCKER_PACKAGE_VERSION}) ...\nCreated symlink /etc/systemd/system/multi-user.target.wants/docker.service → /lib/systemd/system/docker.service.\nCreated symlink /etc/systemd/system/sockets.target.wants/docker.socket → /lib/systemd/system/docker.socket.\nProcessing triggers for man-db (2.11.2-2) ...\n"
            ));
            let World { rng, hosts, .. } = world;
            let host = &mut hosts[index];
            host.install_docker_files(rng);
            host.docker_installed = true;
            if start_dockerd(host).is_err() {
                host.dockerd_running = false;
            }
            docker::swarm::refresh(world);
            Output::ok(out)
        }
        other => Output::error(format!("E: Invalid operation {other}"), 100),
    }
}

fn dpkg(name: &str, args: &[&str], host: &Host) -> Output {
    let mut format = "${binary:Package}\t${Version}\n".to_owned();
    let mut status_mode = false;
    let mut packages = Vec::new();
    let mut index = 0;
    while index < args.len() {
        let arg = args[index];
        if arg == "-f" || arg == "--showformat" {
            if let Some(value) = args.get(index + 1) {
                format = (*value).to_owned();
            }
            index += 1;
        } else if let Some(value) = arg.strip_prefix("--showformat=") {
            format = value.to_owned();
        } else if let Some(value) = arg.strip_prefix("-f=") {
            format = value.to_owned();
        } else if arg == "-s" || arg == "--status" {
            status_mode = true;
        } else if !arg.starts_with('-') {
            packages.push(arg);
        }
        index += 1;
    }
    let mut out = Output::default();
    for package in packages {
        let installed = package == "docker.io" && host.docker_installed;
        if !installed {
            let message = if status_mode {
                format!(
                    "dpkg-query: package '{package}' is not installed and no information is available\nUse dpkg --info (= dpkg-deb --info) to examine archive files.\n"
                )
            } else {
                format!("dpkg-query: no packages found matching {package}\n")
            };
            out.stderr.extend_from_slice(message.as_bytes());
            out.status = 1;
            continue;
        }
        if status_mode || name == "dpkg" {
            out.stdout.extend_from_slice(
                format!("Package: docker.io\nStatus: install ok installed\nPriority: optional\nSection: admin\nArchitecture: {}\nVersion: {DOCKER_PACKAGE_VERSION}\n", if host.arch == "aarch64" { "arm64" } else { "amd64" }).as_bytes(),
            );
        } else {
            let text = format
                .replace("${binary:Package}", "docker.io")
                .replace("${Package}", "docker.io")
                .replace("${Version}", DOCKER_PACKAGE_VERSION)
                .replace("${Status}", "install ok installed")
                .replace("${db:Status-Abbrev}", "ii ");
            let mut expanded = String::new();
            unescape(&text, &mut expanded);
            out.stdout.extend_from_slice(expanded.as_bytes());
        }
    }
    out
}
