//! The text `ksim bench` prints: a table of the meshes, then one line per measurement,
//! each beside its baseline and the ratio.

use std::fmt;

use super::{BenchReport, TARGET_RATIO};

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "ksim bench: {} nodes, {} ms heartbeats, {} virtual s per run, median of {} run(s), seed {}",
            c.nodes, c.heartbeat_ms, c.virtual_secs, c.repeats, self.seed
        )?;
        writeln!(
            f,
            "{:<22} {:>10} {:>9} {:>13} {:>16}",
            "run", "messages", "wall s", "messages/s", "virtual s/wall s"
        )?;
        let rows = [
            ("madsim Endpoint mesh", &self.madsim),
            ("sim-core mesh", &self.sim_core),
            ("ping-mesh demo", &self.demo),
        ];
        for (name, m) in rows {
            writeln!(
                f,
                "{:<22} {:>10} {:>9.3} {:>13.0} {:>16.1}",
                name,
                m.messages,
                m.wall_secs,
                m.messages_per_sec(),
                m.virtual_per_wall()
            )?;
        }
        writeln!(
            f,
            "ratio sim-core / madsim: {:.2} (target >= {TARGET_RATIO}: {})",
            self.ratio(),
            if self.target_met() { "met" } else { "NOT met" }
        )?;
        writeln!(
            f,
            "demo: {:.1} virtual seconds per wall second",
            self.demo.virtual_per_wall()
        )?;
        for (name, m) in [("3-node", &self.raft3), ("5-node", &self.raft5)] {
            writeln!(
                f,
                "raft {name}: {} writes acknowledged in {} virtual s ({:.0} per virtual s); {:.0} per wall second, {:.1} virtual s per wall s",
                m.messages,
                m.virtual_secs,
                m.messages as f64 / m.virtual_secs.max(f64::MIN_POSITIVE),
                m.messages_per_sec(),
                m.virtual_per_wall()
            )?;
        }
        for t in &self.checker {
            writeln!(
                f,
                "linearizability (kv, 5 clients, 10 keys, {}% lost): {} ops checked in {:.3} s, {} steps, {}",
                t.lost_percent,
                t.ops,
                t.wall_secs,
                t.steps,
                if t.linearizable {
                    "linearizable"
                } else {
                    "NOT linearizable"
                }
            )?;
        }
        for (name, m) in [("3-node", &self.kv3), ("5-node", &self.kv5)] {
            writeln!(
                f,
                "etcd kv {name}: {} operations in {:.1} virtual s; {:.0} operations per wall second",
                m.messages,
                m.virtual_secs,
                m.messages_per_sec(),
            )?;
        }
        let r = &self.report;
        writeln!(
            f,
            "report {} ({} events): run {:.3} s, render {:.3} s ({} files, {} KiB); render / run = {:.2}",
            r.scenario,
            r.events,
            r.run_secs,
            r.render_secs,
            r.files,
            r.bytes / 1024,
            r.ratio()
        )?;
        write!(f, "{}", self.scenario)?;
        Ok(())
    }
}
