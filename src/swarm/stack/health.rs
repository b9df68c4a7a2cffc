//! A stack's health check: the plan's step from the `health` attribute, and the HTTP or
//! command attempts that run it once the stack has converged.

use std::time::Duration;

use serde_json::Value;

use super::duration_text;
use crate::plan::{Change, Step};
use crate::ssh::{RemoteCommand, Script};
use crate::swarm::{Context, StepError};

/// The plan's health check step of a stack change, from its `health` attribute.
pub fn health_step(change: &Change) -> Option<Step> {
    let health = change.after("health")?;
    let text = |key: &str| health.get(key).and_then(Value::as_str).map(str::to_owned);
    let check = match (
        text("http"),
        health.get("command").and_then(Value::as_array),
    ) {
        (Some(url), _) => url,
        (None, Some(words)) => {
            let words: Vec<&str> = words.iter().filter_map(Value::as_str).collect();
            format!(
                "`{}` on {}",
                words.join(" "),
                text("host").unwrap_or_default()
            )
        }
        (None, None) => return None,
    };
    Some(Step::HealthCheck {
        check,
        tries: health
            .get("retries")
            .and_then(Value::as_u64)
            .and_then(|tries| u32::try_from(tries).ok())
            .unwrap_or(10),
        interval: text("interval").unwrap_or_else(|| "3s".to_owned()),
    })
}

/// One health check, HTTP or command, as the config's payload holds it (unredacted).
#[derive(Debug)]
struct Health {
    http: Option<String>,
    expect_status: Option<u16>,
    contains: Option<String>,
    command: Vec<String>,
    host: String,
    retries: u32,
    interval: Duration,
    timeout: Duration,
}

impl Health {
    fn from_json(value: &Value) -> Health {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let duration = |key: &str, default: u64| {
            text(key)
                .as_deref()
                .and_then(crate::config::check::parse_duration)
                .unwrap_or(Duration::from_secs(default))
        };
        Health {
            http: text("http"),
            expect_status: value
                .get("expect_status")
                .and_then(Value::as_u64)
                .and_then(|status| u16::try_from(status).ok()),
            contains: text("contains"),
            command: value
                .get("command")
                .and_then(Value::as_array)
                .map(|words| {
                    words
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            host: text("host").unwrap_or_default(),
            retries: value
                .get("retries")
                .and_then(Value::as_u64)
                .and_then(|tries| u32::try_from(tries).ok())
                .unwrap_or(10)
                .max(1),
            interval: duration("interval", 3),
            timeout: duration("timeout", 5),
        }
    }
}

/// Runs a stack's health check until it passes or its tries are used up; the failure names
/// the check and the last attempt's status or output.
pub(in crate::swarm) async fn health_check(
    context: &Context,
    change: &Change,
) -> Result<(), StepError> {
    let health = context
        .resource(&change.address)
        .and_then(|resource| resource.payload("health"))
        .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .map(|value| Health::from_json(&value))
        .ok_or_else(|| {
            StepError::Refused(format!(
                "`{}` has no health check in the config; plan again",
                change.address
            ))
        })?;
    let mut last = String::new();
    for attempt in 1..=health.retries {
        let result = match &health.http {
            Some(url) => http_attempt(context, &health, url).await,
            None => command_attempt(context, &health).await?,
        };
        match result {
            Ok(()) => return Ok(()),
            Err(why) => last = why,
        }
        if attempt < health.retries {
            tokio::time::sleep(health.interval).await;
        }
    }
    let check = match &health.http {
        Some(url) => format!("GET {url}"),
        None => format!("`{}` on {}", health.command.join(" "), health.host),
    };
    let tries = if health.retries == 1 {
        "1 try".to_owned()
    } else {
        format!(
            "{} tries, {} apart",
            health.retries,
            duration_text(health.interval)
        )
    };
    Err(StepError::Refused(context.scrub(&format!(
        "the health check of `{}` failed ({tries}): {check}\n  last attempt: {last}\nhint: the stack is deployed and its services converged, but the check does not pass: look at the services' logs (`docker service logs SERVICE` on a manager)",
        change.address
    ))))
}

/// One HTTP attempt from this machine: healthy on `expect_status` (default any 2xx) with
/// `contains` in the body.
async fn http_attempt(context: &Context, health: &Health, url: &str) -> Result<(), String> {
    context
        .reporter
        .command("localhost", &context.scrub(&format!("GET {url}")));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(health.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let request_url = url.to_owned();
    let answer = tokio::task::spawn_blocking(move || -> Result<(u16, String), String> {
        let mut response = agent
            .get(&request_url)
            .call()
            .map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .lossy_utf8(true)
            .read_to_string()
            .unwrap_or_default();
        Ok((status, body))
    })
    .await
    .map_err(|error| error.to_string())?;
    let (status, body) = answer?;
    let excerpt: String = body.trim().chars().take(200).collect();
    context
        .reporter
        .output("localhost", u32::from(status), &context.scrub(&excerpt), "");
    let status_ok = match health.expect_status {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    };
    if !status_ok {
        let wanted = health
            .expect_status
            .map_or("a 2xx status".to_owned(), |expected| expected.to_string());
        return Err(format!(
            "HTTP {status} (expected {wanted}){}",
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        ));
    }
    if let Some(text) = &health.contains
        && !body.contains(text.as_str())
    {
        return Err(format!(
            "HTTP {status}, but the body does not contain `{text}`: {excerpt}"
        ));
    }
    Ok(())
}

/// One command attempt on the check's host over SSH; healthy on exit 0. An SSH failure is an
/// error of the step, not a failed attempt.
async fn command_attempt(
    context: &Context,
    health: &Health,
) -> Result<Result<(), String>, StepError> {
    let Some((program, arguments)) = health.command.split_first() else {
        return Ok(Err("the command is empty".to_owned()));
    };
    let script = Script::new(RemoteCommand::new(program.clone()).args(arguments.iter().cloned()));
    let output = tokio::time::timeout(health.timeout, context.run(&health.host, &script)).await;
    let Ok(output) = output else {
        return Ok(Err(format!(
            "no answer within {}",
            duration_text(health.timeout)
        )));
    };
    let output = output?;
    if output.success() {
        return Ok(Ok(()));
    }
    let text = format!(
        "{}\n{}",
        output.stdout_text().trim(),
        output.stderr_text().trim()
    );
    let text: String = text.trim().chars().take(300).collect();
    Ok(Err(format!(
        "exit {}{}",
        output.exit_status,
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    )))
}
