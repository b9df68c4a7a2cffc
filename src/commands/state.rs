//! `swarmform state list|show|rm`: read or edit the state without touching any host.

use super::error::Error;
use super::{ExitStatus, Workspace};
use crate::address::Address;
use crate::cli::StateCommand;

pub(super) fn run(workspace: &Workspace, command: &StateCommand) -> Result<ExitStatus, Error> {
    let printer = workspace.printer();
    match command {
        StateCommand::List => {
            if let Some(state) = workspace.state().load()? {
                for resource in &state.resources {
                    printer.out_line(&resource.address);
                }
            }
        }
        StateCommand::Show { address } => {
            let state = workspace.state().load()?.unwrap_or_default();
            let resource = state
                .resource(address)
                .ok_or_else(|| not_in_state(address))?;
            printer.out(crate::ui::resource_text(resource));
        }
        StateCommand::Rm {
            addresses,
            lock_timeout,
        } => {
            let guard = workspace.state().lock("state rm", *lock_timeout)?;
            let mut state = workspace.state().load()?.unwrap_or_default();
            if let Some(missing) = addresses
                .iter()
                .find(|address| state.resource(address).is_none())
            {
                return Err(not_in_state(missing));
            }
            for address in addresses {
                state.remove(address);
            }
            workspace.state().save(&mut state, &guard)?;
            for address in addresses {
                printer.err_line(format_args!(
                    "Removed `{address}` from the state; nothing on the hosts was changed."
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn not_in_state(address: &Address) -> Error {
    Error::NotInState {
        address: address.to_string(),
    }
}
