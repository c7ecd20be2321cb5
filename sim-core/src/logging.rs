//! Log lines stamped with virtual time and node: a `tracing-subscriber` formatter.
//!
//! A simulated run happens in no time on the wall clock, so the timestamps a default
//! formatter prints are useless; what an engineer needs beside each line is the virtual
//! instant and the node it happened on, the same coordinates as the trace and the reports.
//! [`SimFormat`] prints
//!
//! ```text
//!    2.001500s etcd-3    DEBUG ksim::trace: e812 {"type":"send","msg":311,"to":"n1",...}
//! ```
//!
//! The time comes from madsim's clock (`-` outside a runtime); the node, by its name in the
//! world's directory (`etcd-3`), is the event's own `node` field if it has one (trace events
//! recorded by the network pump carry theirs), else the innermost madsim `node` span (madsim
//! wraps every task of a node in one, named after the node), else `-`. The JSON of a trace
//! event keeps ids (`"to":"n1"`), as `trace.jsonl` does.
//!
//! Every trace event is also logged at DEBUG under the target `ksim::trace` as it is
//! recorded (see `World::record`), so `RUST_LOG=ksim::trace=debug ksim run ...` prints the
//! run as it happens. Without `RUST_LOG` nothing is installed and logging costs one
//! level-filter check per event.

use std::fmt;
use std::io;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::time::{duration_us, SimTime};

/// The target trace events are logged under.
pub const TRACE_TARGET: &str = "ksim::trace";

/// Formats events as `<virtual time> <node> <LEVEL> <target>: <fields>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimFormat;

impl<S, N> FormatEvent<S, N> for SimFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let time = match madsim::time::TimeHandle::try_current() {
            Some(handle) => SimTime(duration_us(handle.elapsed())).to_string(),
            None => "-".to_string(),
        };
        let mut node = NodeField(None);
        event.record(&mut node);
        let node = node
            .0
            .or_else(|| span_node(ctx))
            .unwrap_or_else(|| "-".into());
        let meta = event.metadata();
        write!(
            writer,
            "{time:>14} {node:<9} {:>5} {}: ",
            meta.level(),
            meta.target()
        )?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The `node` field of an event, if it has one.
struct NodeField(Option<String>);

impl tracing::field::Visit for NodeField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "node" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "node" {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
}

/// The name of the innermost madsim `node` span around the current event.
fn span_node<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let scope = ctx.event_scope()?;
    for span in scope {
        if span.name() != "node" {
            continue;
        }
        let extensions = span.extensions();
        let fields = extensions.get::<FormattedFields<N>>()?;
        // The default field formatter writes `id=.. name="n3"`.
        let name = fields.fields.split("name=").nth(1)?;
        let name = name.split_whitespace().next()?.trim_matches('"');
        return Some(name.to_string());
    }
    None
}

/// Installs a global subscriber with [`SimFormat`] writing to stderr, filtered by
/// `RUST_LOG`, if `RUST_LOG` is set. Returns whether one was installed.
pub fn init_from_env() -> bool {
    let Ok(filter) = EnvFilter::try_from_default_env() else {
        return false;
    };
    tracing::subscriber::set_global_default(subscriber(filter, io::stderr)).is_ok()
}

/// A subscriber with [`SimFormat`] and `filter`, writing to `writer` (tests pass a buffer).
pub fn subscriber<W>(
    filter: EnvFilter,
    writer: W,
) -> tracing_subscriber::fmt::Subscriber<
    tracing_subscriber::fmt::format::DefaultFields,
    SimFormat,
    EnvFilter,
    W,
>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // madsim's node and task spans are ERROR-level spans under `madsim`; a filter that
    // disabled them would leave lines from node tasks without their node.
    let filter = match "madsim=error".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_ansi(false)
        .event_format(SimFormat)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}
