//! The sequence (Lamport) diagram: one lifeline per node, time flowing down, one arrow per
//! message, as SVG and as Mermaid `sequenceDiagram` text.
//!
//! # What it shows
//!
//! - A lifeline per shown node: servers first, then clients (`Window::nodes` restricts
//!   them). A message is shown when it was sent inside the window (`from_us ..= to_us`)
//!   and both its ends are shown; every shown message has exactly one arrow, so a reader
//!   never wonders whether a missing arrow means "not sent" or "not drawn".
//! - Delivered messages go from (sender, send time) to (receiver, delivery time). Dropped
//!   ones stop partway in a cross labelled with the reason: a message refused at the
//!   sender's side of a cut (`partitioned`) crosses out early, one lost on the wire
//!   (`lost`, `partitioned-in-flight`) halfway, one that reached a dead receiver
//!   (`receiver-down`) just short of it. Messages still travelling when the window (or
//!   the run) ends fade out towards the receiver.
//! - Partition periods are shaded bands across the diagram, labelled with their groups;
//!   inside a band a dashed red wall separates neighbouring lifelines on different sides.
//!   Other faults are marked where they start; down and paused lifelines are dashed.
//! - Leader terms are coloured bars on the leader's lifeline ("leader t4"); candidates
//!   get a hollow bar. Colours follow the term, as in the timeline.
//! - Commit quorums: the acks that made each of the leader's commits are drawn thick and
//!   red, and the commit is marked on the leader's lifeline.
//!
//! # Which acks formed a commit quorum
//!
//! Raft's leader commits index `i` once a majority of the servers hold the entry (and it
//! is from the leader's own term). The leader counts itself; every other vote is an
//! `append-entries-resp` that accepted with `match_index ≥ i`. So for each commit event
//! on a node that leads term `T` at that instant, the acks are the `append-entries-resp`
//! messages delivered to it while it led `T` (not before its term began, not after the
//! commit), in term `T`, with `match ≥ i`; from each follower the earliest one counts,
//! and the first `majority − 1` of those by delivery time are the quorum (the last of
//! them is the ack that tipped it). Heartbeat responses carry no match index, so they
//! never count. When fewer than `majority − 1` such acks exist the commit is marked in
//! red as "no majority": that is what the planted bug `quorum-of-reachable` looks like.
//!
//! # Vertical scale
//!
//! Time flows down, but not linearly: a run mixes sub-millisecond local hops with
//! heartbeat intervals and election timeouts of hundreds of milliseconds, and a linear
//! scale makes either the hops invisible or the diagram kilometres long. So the distinct
//! instants of the window (sends, deliveries, drops, commits, role changes, fault
//! bounds) are rows, and the gap between consecutive rows grows with the logarithm of
//! the time between them, from [`ROW_MIN_PX`] up to [`GAP_MAX_PX`]. Order is kept
//! exactly (happens-before arrows always point down or sideways), equal instants share a
//! row, and a longer pause always looks longer; gaps longer than [`GAP_MARK_US`] carry
//! their real length on the time axis ("+250 ms"), so nobody reads the picture as linear.
//! One row per event (pure Lamport order) would hide how long an election took, which is
//! half of what students should see.
//!
//! # Default window
//!
//! A whole run has tens of thousands of messages. Without explicit bounds the window
//! starts a little before the most instructive moment: the first fault, or without
//! faults the first client write (the write path is the lesson of `quorum-write`), or the
//! first election. It keeps [`LEAD_ARROWS`] messages before that moment for context and
//! grows forward until [`DEFAULT_MAX_ARROWS`] messages are shown.
//!
//! # Why one file of this size
//!
//! The window choice, the lane layout, the commit-quorum rule, and the SVG and Mermaid
//! renderings all read the same laid-out diagram, and the Mermaid output must match the
//! SVG. Still to do: split it into `sequence/{window,layout,svg,mermaid}.rs` around that
//! layout type, when the typed trace replaces the message-detail parsing here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use raft::core::Role;
use raft::events::MessageFields;
use sim_core::{DropReason, EventId, MessageId, NodeId};

use crate::model::{format_ms, node_set, Fate, MessageRecord, OpEnd, OutageKind, RunModel};
use crate::palette;
use crate::svg::{escape, num, Svg};
use crate::Window;

/// Messages shown by default: a few heartbeat rounds, an election and a replicated write
/// fit; more and the diagram becomes a wall of arrows.
pub const DEFAULT_MAX_ARROWS: usize = 200;
/// Messages kept before the instructive moment of the default window, for context.
pub const LEAD_ARROWS: usize = 40;
/// The smallest gap between two distinct instants, pixels (one label line).
pub const ROW_MIN_PX: f64 = 11.0;
/// Extra pixels per doubling of the gap in milliseconds.
pub const ROW_LOG_PX: f64 = 9.0;
/// The largest gap between two instants, pixels.
pub const GAP_MAX_PX: f64 = 110.0;
/// Gaps longer than this are labelled with their real length on the time axis.
pub const GAP_MARK_US: u64 = 20_000;

/// Horizontal distance between lifelines.
const LANE_PX: f64 = 180.0;
/// Width of the time axis on the left.
const AXIS_PX: f64 = 96.0;
/// Height of the title, note, legend and lifeline heads.
const HEADER_PX: f64 = 118.0;
/// Space below the last instant (lifeline feet).
const FOOTER_PX: f64 = 56.0;
/// Font size of arrow labels.
const LABEL_FONT_PX: f64 = 10.0;
/// Approximate advance of one label character at [`LABEL_FONT_PX`] (DejaVu Sans).
const LABEL_CHAR_PX: f64 = 5.9;
/// Longest arrow label, characters (the full detail is in the arrow's tooltip).
const LABEL_MAX_CHARS: usize = 34;

/// Colour of the acks that formed a commit quorum, and of drops.
const QUORUM_COLOUR: &str = "#d62728";
const DROP_COLOUR: &str = "#c0392b";

/// A rendered sequence diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// The SVG document.
    pub svg: String,
    /// The same window as Mermaid `sequenceDiagram` text.
    pub mermaid: String,
    /// First instant shown.
    pub from_us: u64,
    /// Last instant shown (inclusive).
    pub to_us: u64,
    /// The lifelines, left to right.
    pub nodes: Vec<NodeId>,
    /// Arrows drawn (one per shown message).
    pub arrows: usize,
    /// One line saying what is shown.
    pub note: String,
}

/// The acks that let a leader commit an index (see the module doc for the rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitQuorum {
    /// The leader.
    pub leader: NodeId,
    /// Its term.
    pub term: u64,
    /// The committed index.
    pub index: u64,
    /// When it committed.
    pub t_us: u64,
    /// The commit event.
    pub event: EventId,
    /// The acks that formed the quorum, in delivery order (at most `majority − 1`).
    pub acks: Vec<MessageId>,
    /// Whether the leader and `acks` make a majority of the servers.
    pub majority: bool,
}

/// The majority of `servers` servers.
pub fn majority(servers: usize) -> usize {
    servers / 2 + 1
}

/// The match index an `append-entries-resp` accepted, if it accepted.
pub fn ack_match(message: &MessageRecord) -> Option<u64> {
    message.raft()?.match_index()
}

/// The commit quorums of the leaders' commits between `from_us` and `to_us` (inclusive).
pub fn commit_quorums(model: &RunModel, from_us: u64, to_us: u64) -> Vec<CommitQuorum> {
    let need = majority(model.servers.len()).saturating_sub(1);
    // Accepting acks by receiver, in delivery order.
    let mut acks_to: BTreeMap<NodeId, Vec<(u64, &MessageRecord)>> = BTreeMap::new();
    for m in &model.messages {
        if let (Fate::Delivered { t_us, .. }, Some(_)) = (m.fate, ack_match(m)) {
            acks_to.entry(m.to).or_default().push((t_us, m));
        }
    }
    for list in acks_to.values_mut() {
        list.sort_by_key(|(t, m)| (*t, m.id));
    }
    let mut out = Vec::new();
    for (node, points) in &model.commits {
        for point in points
            .iter()
            .filter(|p| from_us <= p.t_us && p.t_us <= to_us)
        {
            let Some(span) = model
                .role_at(*node, point.t_us)
                .filter(|r| r.role == Role::Leader)
            else {
                continue;
            };
            let mut first_by_follower: BTreeMap<NodeId, (u64, MessageId)> = BTreeMap::new();
            for (t, m) in acks_to.get(node).map(Vec::as_slice).unwrap_or(&[]) {
                if *t < span.start_us || *t > point.t_us {
                    continue;
                }
                let accepted = ack_match(m).unwrap_or(0);
                if m.term() == Some(span.term) && accepted >= point.index {
                    first_by_follower.entry(m.from).or_insert((*t, m.id));
                }
            }
            let mut firsts: Vec<(u64, MessageId)> = first_by_follower.into_values().collect();
            firsts.sort();
            firsts.truncate(need);
            out.push(CommitQuorum {
                leader: *node,
                term: span.term,
                index: point.index,
                t_us: point.t_us,
                event: point.event,
                majority: firsts.len() >= need,
                acks: firsts.into_iter().map(|(_, id)| id).collect(),
            });
        }
    }
    out.sort_by_key(|q| (q.t_us, q.event));
    out
}

/// Draws the sequence diagram of `window` (see the module doc for the defaults).
pub fn render(model: &RunModel, window: &Window) -> Sequence {
    let allowed = |n: &NodeId| window.nodes.as_ref().is_none_or(|only| only.contains(n));
    let candidates: Vec<&MessageRecord> = model
        .messages
        .iter()
        .filter(|m| allowed(&m.from) && allowed(&m.to))
        .collect();
    let (from_us, to_us) = choose_range(model, window, &candidates);
    let nodes = lifelines(model, window, from_us, to_us);
    let lane: BTreeMap<NodeId, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let shown: Vec<&MessageRecord> = candidates
        .iter()
        .copied()
        .filter(|m| from_us <= m.sent_us && m.sent_us <= to_us)
        .collect();
    let quorums: Vec<CommitQuorum> = commit_quorums(model, from_us, to_us)
        .into_iter()
        .filter(|q| lane.contains_key(&q.leader))
        .collect();
    let view = View {
        model,
        nodes: &nodes,
        lane,
        from_us,
        to_us,
        shown: &shown,
        quorums: &quorums,
    };
    let note = view.note();
    let svg = view.svg(&note);
    let mermaid = view.mermaid(&note);
    Sequence {
        svg,
        mermaid,
        from_us,
        to_us,
        nodes,
        arrows: shown.len(),
        note,
    }
}

/// Servers then clients, restricted to `window.nodes`. When a partition with groups
/// overlaps the window, servers (and clients) are ordered side by side, so the cut is one
/// wall between neighbouring lifelines instead of a zigzag.
fn lifelines(model: &RunModel, window: &Window, from_us: u64, to_us: u64) -> Vec<NodeId> {
    let shown = |n: &NodeId| window.nodes.as_ref().is_none_or(|only| only.contains(n));
    let side = |n: &NodeId| -> usize {
        model
            .partitions
            .iter()
            .find(|p| !p.groups.is_empty() && p.start_us <= to_us && p.end_us >= from_us)
            .and_then(|p| p.groups.iter().position(|g| g.contains(n)))
            .unwrap_or(usize::MAX)
    };
    let mut servers: Vec<NodeId> = model.servers.iter().copied().filter(shown).collect();
    let mut clients: Vec<NodeId> = model.clients.iter().copied().filter(shown).collect();
    // Stable sorts: node order within a side.
    servers.sort_by_key(side);
    clients.sort_by_key(side);
    servers.extend(clients);
    servers
}

/// The instant the default window is built around.
fn instructive_moment(model: &RunModel) -> u64 {
    if let Some(first) = model.faults.iter().map(|f| f.start_us).min() {
        return first;
    }
    if let Some(write) = model.messages.iter().find(|m| m.kind == "client-write") {
        return write.sent_us;
    }
    model
        .roles
        .iter()
        .filter(|r| r.role == Role::Leader)
        .map(|r| r.start_us)
        .min()
        .unwrap_or(0)
}

/// The window's bounds: as given, or grown around the instructive moment until
/// [`DEFAULT_MAX_ARROWS`] messages (`candidates`, in send order) are in it.
fn choose_range(model: &RunModel, window: &Window, candidates: &[&MessageRecord]) -> (u64, u64) {
    let end = model.end_us;
    // Bounds that keep `cap` messages from index `first` on (messages sharing the last
    // one's send time would overshoot the cap, so the window stops before them).
    let forward = |first: usize| -> u64 {
        match candidates.get(first + DEFAULT_MAX_ARROWS) {
            Some(next) => {
                let last = candidates[first + DEFAULT_MAX_ARROWS - 1].sent_us;
                if next.sent_us > last {
                    last.max(next.sent_us - 1)
                } else {
                    last.saturating_sub(1)
                        .max(candidates.get(first).map_or(0, |m| m.sent_us))
                }
            }
            None => end,
        }
    };
    let first_at = |t: u64| candidates.partition_point(|m| m.sent_us < t);
    match (window.from_us, window.to_us) {
        (Some(from), Some(to)) => (from, to.max(from)),
        (Some(from), None) => (from, forward(first_at(from)).max(from)),
        (None, Some(to)) => {
            let after = candidates.partition_point(|m| m.sent_us <= to);
            let first = after.saturating_sub(DEFAULT_MAX_ARROWS);
            (candidates.get(first).map_or(0, |m| m.sent_us).min(to), to)
        }
        (None, None) => {
            let anchor = first_at(instructive_moment(model));
            let first = anchor.saturating_sub(LEAD_ARROWS);
            let from = candidates.get(first).map_or(0, |m| m.sent_us);
            (from, forward(first).max(from))
        }
    }
}

/// Maps instants to y pixels with log-compressed gaps (see the module doc).
#[derive(Debug)]
struct TimeScale {
    times: Vec<u64>,
    ys: Vec<f64>,
}

impl TimeScale {
    fn new(mut times: Vec<u64>, top_px: f64) -> Self {
        times.sort_unstable();
        times.dedup();
        let mut ys = Vec::with_capacity(times.len());
        let mut y = top_px;
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                y += gap_px(t - times[i - 1]);
            }
            ys.push(y);
        }
        TimeScale { times, ys }
    }

    fn y(&self, t_us: u64) -> f64 {
        match self.times.binary_search(&t_us) {
            Ok(i) => self.ys[i],
            Err(0) => self.ys.first().copied().unwrap_or(0.0),
            Err(i) if i >= self.times.len() => self.ys.last().copied().unwrap_or(0.0),
            Err(i) => {
                let (t0, t1) = (self.times[i - 1] as f64, self.times[i] as f64);
                let f = (t_us as f64 - t0) / (t1 - t0);
                self.ys[i - 1] + f * (self.ys[i] - self.ys[i - 1])
            }
        }
    }

    fn bottom(&self) -> f64 {
        self.ys.last().copied().unwrap_or(0.0)
    }
}

/// The pixels between two instants `dt_us` apart.
fn gap_px(dt_us: u64) -> f64 {
    if dt_us == 0 {
        return 0.0;
    }
    let ms = dt_us as f64 / 1000.0;
    (ROW_MIN_PX + ROW_LOG_PX * (1.0 + ms).log2()).min(GAP_MAX_PX)
}

/// Seconds with millisecond precision: `2.104 s`.
fn seconds(t_us: u64) -> String {
    format!("{}.{:03} s", t_us / 1_000_000, (t_us % 1_000_000) / 1000)
}

/// `18403` -> `18 403`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A short label for an arrow: kind and the key fields, compacted, read from the
/// message's typed fields.
pub fn arrow_label(message: &MessageRecord) -> String {
    let kind = message.kind.as_str();
    let Some(fields) = message.raft() else {
        let text = if message.detail.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} {}", message.detail)
        };
        return shorten(&text, LABEL_MAX_CHARS);
    };
    let term = fields.term().map(|t| format!(" t{t}")).unwrap_or_default();
    let text = match fields {
        MessageFields::Append {
            prev_index,
            prev_term,
            entries,
            commit,
            ..
        } => format!("append-entries{term} +{entries} prev={prev_index}/{prev_term} c={commit}"),
        MessageFields::AppendAccepted { match_index, .. } => {
            format!("append-resp{term} ok match={match_index}")
        }
        MessageFields::AppendRejected { rejected_index, .. } => {
            format!("append-resp{term} rejected at {rejected_index}")
        }
        MessageFields::Heartbeat { commit, .. } => format!("heartbeat{term} c={commit}"),
        MessageFields::Vote {
            last_index,
            last_term,
            ..
        } => format!("{kind}{term} last={last_index}/{last_term}"),
        MessageFields::VoteResp { refused, .. } => {
            let answer = if refused.is_none() {
                "granted"
            } else {
                "refused"
            };
            format!("{kind}{term} {answer}")
        }
        MessageFields::Term { .. } => format!("{kind}{term}"),
        MessageFields::Snapshot {
            index,
            snapshot_term,
            ..
        } => format!("{kind}{term} {index}/{snapshot_term}"),
        MessageFields::SnapshotResp { last_index, .. } => {
            format!("{kind}{term} last={last_index}")
        }
        MessageFields::ReadIndexResp { index, .. } => format!("{kind}{term} index={index}"),
        MessageFields::Request { request, op } => format!("{kind} req={request} {op}"),
        MessageFields::Reply { request, answer } => format!("{kind} req={request} {answer}"),
        MessageFields::Push { seq, output } => format!("{kind} seq={seq} {output}"),
    };
    shorten(&text, LABEL_MAX_CHARS)
}

/// Cuts `text` to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// What happened to a shown message, as drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drawn {
    Delivered(u64),
    Dropped(u64, DropReason),
    /// Still travelling at the end of the window or the run.
    Fading,
}

fn drawn(message: &MessageRecord, to_us: u64) -> Drawn {
    match message.fate {
        Fate::Delivered { t_us, .. } if t_us <= to_us => Drawn::Delivered(t_us),
        Fate::Dropped { t_us, reason, .. } if t_us <= to_us && reason != DropReason::RunEnded => {
            Drawn::Dropped(t_us, reason)
        }
        _ => Drawn::Fading,
    }
}

/// How far along the arrow a drop is drawn, by where the network dropped it.
fn drop_fraction(reason: DropReason) -> f64 {
    match reason {
        DropReason::Partitioned => 0.35,
        DropReason::PartitionedInFlight | DropReason::Lost | DropReason::RunEnded => 0.55,
        // Both reach the receiving machine: it is down, or nothing listens on the port.
        DropReason::ReceiverDown | DropReason::NoSuchPort => 0.88,
    }
}

/// A label's box, for keeping labels apart.
#[derive(Clone, Copy, Debug)]
struct LabelBox {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl LabelBox {
    fn overlaps(&self, other: &LabelBox) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
}

/// Everything one rendering needs.
struct View<'a> {
    model: &'a RunModel,
    nodes: &'a [NodeId],
    lane: BTreeMap<NodeId, usize>,
    from_us: u64,
    to_us: u64,
    shown: &'a [&'a MessageRecord],
    quorums: &'a [CommitQuorum],
}

impl View<'_> {
    fn note(&self) -> String {
        let servers: Vec<NodeId> = self
            .nodes
            .iter()
            .copied()
            .filter(|n| self.model.servers.contains(n))
            .collect();
        let clients: Vec<NodeId> = self
            .nodes
            .iter()
            .copied()
            .filter(|n| !self.model.servers.contains(n))
            .collect();
        let set = |nodes: &[NodeId]| {
            let mut sorted = nodes.to_vec();
            sorted.sort();
            node_set(&sorted, &self.model.directory)
        };
        let mut who = format!("servers {}", set(&servers));
        if !clients.is_empty() {
            who.push_str(&format!(", clients {}", set(&clients)));
        }
        format!(
            "{}–{} of {}, {} of {} messages, {}; idle gaps compressed",
            seconds(self.from_us).trim_end_matches(" s"),
            seconds(self.to_us),
            seconds(self.model.end_us),
            grouped(self.shown.len()),
            grouped(self.model.messages.len()),
            who
        )
    }

    fn lane_x(&self, node: NodeId) -> f64 {
        AXIS_PX + LANE_PX / 2.0 + self.lane[&node] as f64 * LANE_PX
    }

    fn clip(&self, start_us: u64, end_us: u64) -> Option<(u64, u64)> {
        let (s, e) = (start_us.max(self.from_us), end_us.min(self.to_us));
        (s <= e && start_us <= self.to_us && end_us >= self.from_us).then_some((s, e))
    }

    /// Every instant that gets a row.
    fn instants(&self) -> Vec<u64> {
        let mut times = vec![self.from_us, self.to_us];
        for m in self.shown {
            times.push(m.sent_us);
            match drawn(m, self.to_us) {
                Drawn::Delivered(t) | Drawn::Dropped(t, _) => times.push(t),
                Drawn::Fading => {}
            }
        }
        let mut bounds = |s: u64, e: u64| {
            if let Some((s, e)) = self.clip(s, e) {
                times.push(s);
                times.push(e);
            }
        };
        for p in &self.model.partitions {
            bounds(p.start_us, p.end_us);
        }
        for f in &self.model.faults {
            bounds(f.start_us, f.end_us);
        }
        for r in &self.model.roles {
            if self.lane.contains_key(&r.node) {
                bounds(r.start_us, r.end_us);
            }
        }
        for o in &self.model.outages {
            if self.lane.contains_key(&o.node) {
                bounds(o.start_us, o.end_us);
            }
        }
        for q in self.quorums {
            times.push(q.t_us);
        }
        for op in &self.model.ops {
            if self.lane.contains_key(&op.client) {
                for t in [Some(op.invoke_us), op.complete_us].into_iter().flatten() {
                    if self.from_us <= t && t <= self.to_us {
                        times.push(t);
                    }
                }
            }
        }
        times
    }

    fn svg(&self, note: &str) -> String {
        let scale = TimeScale::new(self.instants(), HEADER_PX + 16.0);
        let bottom = scale.bottom() + 16.0;
        let width = AXIS_PX + self.nodes.len() as f64 * LANE_PX + 24.0;
        let height = bottom + FOOTER_PX;
        let mut svg = Svg::new(width, height);
        let right = width - 12.0;

        svg.text(
            12.0,
            22.0,
            &format!("Sequence diagram · seed {}", self.model.seed),
            r#"font-size="16" font-weight="bold""#,
        );
        svg.text(12.0, 40.0, note, r##"fill="#444""##);
        self.legend(&mut svg, 58.0);

        self.partition_bands(&mut svg, &scale, right, bottom);
        self.time_axis(&mut svg, &scale);
        self.lifelines(&mut svg, &scale, bottom);
        let role_labels = self.role_bars(&mut svg, &scale);
        self.fault_marks(&mut svg, &scale, right);
        self.arrows(&mut svg, &scale, bottom);
        // Role labels over the arrows: who leads must never be hidden.
        for label in role_labels {
            svg.raw(&label);
        }
        self.commit_marks(&mut svg, &scale);
        self.op_marks(&mut svg, &scale);
        svg.finish()
    }

    fn legend(&self, svg: &mut Svg, y: f64) {
        let mut x = 12.0;
        let mut item = |svg: &mut Svg, draw: &dyn Fn(&mut Svg, f64), text: &str| {
            draw(svg, x);
            svg.text(x + 30.0, y + 4.0, text, r##"fill="#333""##);
            x += 30.0 + text.chars().count() as f64 * 6.6 + 22.0;
        };
        item(
            svg,
            &|s, x| s.line(x, y, x + 24.0, y, r##"stroke="#555" stroke-width="1.2""##),
            "message",
        );
        item(
            svg,
            &|s, x| {
                s.line(
                    x,
                    y,
                    x + 24.0,
                    y,
                    &format!(r#"stroke="{QUORUM_COLOUR}" stroke-width="3""#),
                )
            },
            "ack that completed a commit quorum",
        );
        item(
            svg,
            &|s, x| {
                s.line(x, y, x + 14.0, y, &format!(r#"stroke="{DROP_COLOUR}""#));
                cross(s, x + 18.0, y, 4.5, DROP_COLOUR);
            },
            "dropped (reason)",
        );
        item(
            svg,
            &|s, x| {
                s.rect(
                    x + 8.0,
                    y - 7.0,
                    9.0,
                    14.0,
                    &format!(r#"fill="{}""#, palette::term(1).hex()),
                )
            },
            "leader of a term",
        );
        item(
            svg,
            &|s, x| {
                s.rect(
                    x,
                    y - 7.0,
                    24.0,
                    14.0,
                    r##"fill="#e74c3c" fill-opacity="0.12" stroke="#e74c3c" stroke-dasharray="3 2""##,
                )
            },
            "network partition",
        );
        svg.text(
            12.0,
            y + 24.0,
            "Time flows down; rows keep the order of events, gaps grow with the log of the time between them.",
            r##"fill="#666" font-size="11""##,
        );
    }

    fn partition_bands(&self, svg: &mut Svg, scale: &TimeScale, right: f64, bottom: f64) {
        for p in &self.model.partitions {
            let Some((s, e)) = self.clip(p.start_us, p.end_us) else {
                continue;
            };
            let (y0, y1) = (
                scale.y(s),
                if e >= self.to_us { bottom } else { scale.y(e) },
            );
            svg.raw(&format!(
                r#"<g class="band partition" data-start-us="{}" data-end-us="{}" data-groups="{}">"#,
                p.start_us,
                p.end_us,
                escape(&p.label)
            ));
            svg.rect(
                AXIS_PX - 6.0,
                y0,
                right - AXIS_PX + 6.0,
                y1 - y0,
                r##"fill="#e74c3c" fill-opacity="0.07""##,
            );
            for y in [y0, y1] {
                svg.line(
                    AXIS_PX - 6.0,
                    y,
                    right,
                    y,
                    r##"stroke="#e74c3c" stroke-width="1" stroke-dasharray="5 3""##,
                );
            }
            // A wall between neighbouring lifelines on different sides of the cut.
            for pair in self.nodes.windows(2) {
                if p.blocks(pair[0], pair[1]) || p.blocks(pair[1], pair[0]) {
                    let x = (self.lane_x(pair[0]) + self.lane_x(pair[1])) / 2.0;
                    svg.line(
                        x,
                        y0,
                        x,
                        y1,
                        r##"stroke="#e74c3c" stroke-width="2.5" stroke-dasharray="8 5" stroke-opacity="0.7""##,
                    );
                }
            }
            // Which side each lifeline is on.
            for n in self.nodes {
                if let Some(g) = p.groups.iter().position(|g| g.contains(n)) {
                    let letter = char::from(b'A' + (g % 26) as u8);
                    svg.text(
                        self.lane_x(*n) + 6.0,
                        y0 + 28.0,
                        &format!("side {letter}"),
                        r##"fill="#c0392b" font-size="10" font-style="italic" paint-order="stroke" stroke="white" stroke-width="2.5""##,
                    );
                }
            }
            let since = if p.start_us < self.from_us {
                format!(" (since {})", seconds(p.start_us))
            } else {
                String::new()
            };
            let healed = if p.end_us <= self.to_us {
                format!(", healed at {}", seconds(p.end_us))
            } else {
                String::new()
            };
            svg.text(
                AXIS_PX,
                y0 + 13.0,
                &format!("partition {}{since}{healed}", p.label),
                r##"fill="#c0392b" font-weight="bold" font-size="12" paint-order="stroke" stroke="white" stroke-width="3""##,
            );
            svg.raw("</g>");
        }
    }

    fn time_axis(&self, svg: &mut Svg, scale: &TimeScale) {
        svg.line(
            AXIS_PX - 14.0,
            HEADER_PX + 10.0,
            AXIS_PX - 14.0,
            scale.bottom() + 10.0,
            r##"stroke="#999""##,
        );
        let mut last_label_y = f64::MIN;
        let mut last_text = String::new();
        for (i, t) in scale.times.iter().enumerate() {
            let y = scale.ys[i];
            if i > 0 {
                let dt = t - scale.times[i - 1];
                if dt > GAP_MARK_US {
                    let mid = (scale.ys[i - 1] + y) / 2.0;
                    // A break in the axis: the gap is compressed.
                    svg.line(
                        AXIS_PX - 20.0,
                        mid - 2.0,
                        AXIS_PX - 8.0,
                        mid - 6.0,
                        r##"stroke="#999""##,
                    );
                    svg.line(
                        AXIS_PX - 20.0,
                        mid + 4.0,
                        AXIS_PX - 8.0,
                        mid,
                        r##"stroke="#999""##,
                    );
                    svg.text(
                        AXIS_PX - 24.0,
                        mid + 4.0,
                        &format!("+{} ms", format_ms(dt)),
                        r##"text-anchor="end" fill="#888" font-size="10" font-style="italic""##,
                    );
                }
            }
            let text = seconds(*t);
            if y - last_label_y >= 24.0 && text != last_text {
                svg.line(AXIS_PX - 17.0, y, AXIS_PX - 11.0, y, r##"stroke="#999""##);
                svg.text(
                    AXIS_PX - 20.0,
                    y + 3.5,
                    &text,
                    r##"text-anchor="end" fill="#555" font-size="10""##,
                );
                last_label_y = y;
                last_text = text;
            }
        }
    }

    fn lifelines(&self, svg: &mut Svg, scale: &TimeScale, bottom: f64) {
        let top = HEADER_PX + 4.0;
        for node in self.nodes {
            let x = self.lane_x(*node);
            let client = !self.model.servers.contains(node);
            let name = self.model.name(*node).to_string();
            let (fill, stroke) = if client {
                ("#eef7ee", "#4a8f4a")
            } else {
                ("#eef3fb", "#4a6fa5")
            };
            svg.raw(&format!(
                r#"<g class="lifeline" data-node="{node}" data-client="{client}">"#
            ));
            svg.line(x, top, x, bottom, r##"stroke="#bbb" stroke-width="1.5""##);
            for y in [top - 26.0, bottom] {
                svg.rect(
                    x - 48.0,
                    y,
                    96.0,
                    24.0,
                    &format!(r#"rx="5" fill="{fill}" stroke="{stroke}""#),
                );
                svg.text(
                    x,
                    y + 16.0,
                    &name,
                    r#"text-anchor="middle" font-weight="bold""#,
                );
            }
            // Down or paused: the lifeline is dashed grey.
            for o in self.model.outages.iter().filter(|o| o.node == *node) {
                let Some((s, e)) = self.clip(o.start_us, o.end_us) else {
                    continue;
                };
                let (y0, y1) = (scale.y(s), scale.y(e).max(scale.y(s) + 4.0));
                svg.rect(x - 3.0, y0, 6.0, y1 - y0, r#"fill="white""#);
                svg.line(
                    x,
                    y0,
                    x,
                    y1,
                    r##"stroke="#888" stroke-width="2" stroke-dasharray="2 4""##,
                );
                let word = match o.kind {
                    OutageKind::Down => "down",
                    OutageKind::Paused => "paused",
                };
                svg.text(
                    x + 6.0,
                    y0 + 12.0,
                    word,
                    r##"fill="#777" font-style="italic""##,
                );
            }
            svg.raw("</g>");
        }
    }

    /// Draws the role bars; returns their labels, to be written over the arrows.
    fn role_bars(&self, svg: &mut Svg, scale: &TimeScale) -> Vec<String> {
        let mut labels = Vec::new();
        for r in &self.model.roles {
            if !self.lane.contains_key(&r.node) {
                continue;
            }
            let Some((s, e)) = self.clip(r.start_us, r.end_us) else {
                continue;
            };
            let x = self.lane_x(r.node);
            let (y0, y1) = (scale.y(s), scale.y(e).max(scale.y(s) + 3.0));
            let attrs = format!(
                r#"data-node="{}" data-term="{}" data-start-us="{}" data-end-us="{}""#,
                r.node, r.term, r.start_us, r.end_us
            );
            match r.role {
                Role::Leader => {
                    let colour = palette::term(r.term).hex();
                    svg.raw(&format!(r#"<g class="band leader" {attrs}>"#));
                    svg.rect(
                        x - 5.0,
                        y0,
                        10.0,
                        y1 - y0,
                        &format!(r#"fill="{colour}" fill-opacity="0.85""#),
                    );
                    svg.raw("</g>");
                    labels.push(format!(
                        r#"<text x="{}" y="{}" fill="{colour}" font-weight="bold" font-size="13" paint-order="stroke" stroke="white" stroke-width="3.5">leader t{}</text>"#,
                        num(x + 8.0),
                        num(y0 + 13.0),
                        r.term
                    ));
                }
                Role::Candidate | Role::PreCandidate => {
                    let word = if r.role == Role::Candidate {
                        "candidate"
                    } else {
                        "pre-candidate"
                    };
                    svg.raw(&format!(r#"<g class="band {word}" {attrs}>"#));
                    svg.rect(
                        x - 4.0,
                        y0,
                        8.0,
                        y1 - y0,
                        r##"fill="white" stroke="#e67e22" stroke-width="1.5""##,
                    );
                    svg.raw("</g>");
                    labels.push(format!(
                        r##"<text x="{}" y="{}" fill="#d35400" font-style="italic" paint-order="stroke" stroke="white" stroke-width="3">{word} t{}</text>"##,
                        num(x + 8.0),
                        num(y0 + 12.0),
                        r.term
                    ));
                }
                Role::Follower => {}
            }
        }
        labels
    }

    fn fault_marks(&self, svg: &mut Svg, scale: &TimeScale, right: f64) {
        for f in &self.model.faults {
            if matches!(f.kind, "partition" | "isolate" | "cut-link") {
                continue; // drawn as bands
            }
            let Some((s, _)) = self.clip(f.start_us, f.end_us) else {
                continue;
            };
            let y = scale.y(s);
            let x = f
                .nodes
                .iter()
                .find(|n| self.lane.contains_key(n))
                .map_or(AXIS_PX, |n| self.lane_x(*n) + 8.0);
            svg.raw(&format!(
                r#"<g class="fault" data-kind="{}" data-start-us="{}" data-end-us="{}">"#,
                f.kind, f.start_us, f.end_us
            ));
            svg.line(
                AXIS_PX - 6.0,
                y,
                right,
                y,
                r##"stroke="#8e44ad" stroke-dasharray="2 3" stroke-opacity="0.6""##,
            );
            let since = if f.start_us < self.from_us {
                format!(" (since {})", seconds(f.start_us))
            } else {
                String::new()
            };
            svg.text(
                x,
                y - 4.0,
                &format!("⚡ {}{since}", f.label),
                r##"fill="#8e44ad" font-weight="bold" paint-order="stroke" stroke="white" stroke-width="3""##,
            );
            svg.raw("</g>");
        }
    }

    fn arrows(&self, svg: &mut Svg, scale: &TimeScale, bottom: f64) {
        let quorum_of: BTreeMap<MessageId, Vec<u64>> =
            self.quorums.iter().fold(BTreeMap::new(), |mut acc, q| {
                for ack in &q.acks {
                    acc.entry(*ack).or_insert_with(Vec::new).push(q.index);
                }
                acc
            });
        // Heartbeats first, the rest over them, quorum acks on top.
        let rank = |m: &MessageRecord| {
            if quorum_of.contains_key(&m.id) {
                2
            } else if m.kind.starts_with("heartbeat") {
                0
            } else {
                1
            }
        };
        let mut order: Vec<&MessageRecord> = self.shown.to_vec();
        order.sort_by_key(|m| (rank(m), m.sent_us, m.id));
        // A broadcast (same sender, instant and label, same fate) is labelled once, on
        // its first arrow, with the count: four identical "heartbeat t2 ✕ partitioned"
        // labels on top of each other say less than one "(×4)".
        let mut same: BTreeMap<(NodeId, u64, String), Vec<MessageId>> = BTreeMap::new();
        for m in self.shown {
            same.entry((m.from, m.sent_us, self.full_label(m)))
                .or_default()
                .push(m.id);
        }
        let mut placed: Vec<LabelBox> = Vec::new();
        for m in order {
            let x0 = self.lane_x(m.from);
            let x_to = self.lane_x(m.to);
            let y0 = scale.y(m.sent_us);
            let fate = drawn(m, self.to_us);
            let quorum = quorum_of.get(&m.id);
            let heartbeat = m.kind.starts_with("heartbeat");
            let client = m.kind.starts_with("client");
            let colour = if quorum.is_some() {
                QUORUM_COLOUR
            } else if matches!(fate, Drawn::Dropped(..)) && heartbeat {
                "#e08e85"
            } else if matches!(fate, Drawn::Dropped(..)) {
                DROP_COLOUR
            } else if heartbeat {
                "#9aa5b1"
            } else if client {
                "#2e7d32"
            } else if m.kind.contains("vote") {
                "#d35400"
            } else {
                "#34495e"
            };
            let stroke_px = if quorum.is_some() {
                3.0
            } else if heartbeat {
                0.9
            } else {
                1.3
            };
            let (fate_name, end_attr) = match fate {
                Drawn::Delivered(t) => ("delivered", format!(r#" data-end-us="{t}""#)),
                Drawn::Dropped(t, r) => (
                    "dropped",
                    format!(r#" data-end-us="{t}" data-reason="{}""#, r.as_str()),
                ),
                Drawn::Fading => ("in-flight", String::new()),
            };
            let quorum_attr = quorum
                .map(|ix| {
                    let list: Vec<String> = ix.iter().map(u64::to_string).collect();
                    format!(r#" data-quorum-for="{}""#, list.join(" "))
                })
                .unwrap_or_default();
            let class = if quorum.is_some() {
                "msg quorum-ack"
            } else {
                "msg"
            };
            svg.raw(&format!(
                r#"<g class="{class}" data-msg="{}" data-kind="{}" data-from="{}" data-to="{}" data-sent-us="{}" data-fate="{fate_name}"{end_attr}{quorum_attr}>"#,
                m.id.0,
                escape(&m.kind),
                m.from,
                m.to,
                m.sent_us
            ));
            let fate_text = match m.fate {
                Fate::Delivered { t_us, .. } => format!("delivered {}", seconds(t_us)),
                Fate::Dropped { t_us, reason, .. } => {
                    format!("dropped {} ({})", seconds(t_us), reason.as_str())
                }
                Fate::InFlight => "still in flight when the run ended".into(),
            };
            svg.raw(&format!(
                "<title>{} {}→{} {} {}: sent {}, {}</title>",
                m.id,
                m.from,
                m.to,
                escape(&m.kind),
                escape(&m.detail),
                seconds(m.sent_us),
                fate_text
            ));
            let line_attrs = format!(r#"stroke="{colour}" stroke-width="{}""#, num(stroke_px));
            let label = self.full_label(m);
            let siblings = &same[&(m.from, m.sent_us, label.clone())];
            let (x1, y1) = match fate {
                Drawn::Delivered(t) => {
                    let y1 = scale.y(t);
                    if m.from == m.to {
                        // A message to itself: a small loop.
                        svg.raw(&format!(
                            r#"<path d="M{} {} h24 V{} h-24" fill="none" {line_attrs}/>"#,
                            num(x0),
                            num(y0),
                            num(y1.max(y0 + 8.0))
                        ));
                    } else {
                        svg.line(x0, y0, x_to, y1, &line_attrs);
                        arrow_head(svg, x0, y0, x_to, y1, colour, stroke_px);
                    }
                    (x_to, y1)
                }
                Drawn::Dropped(t, reason) => {
                    let f = drop_fraction(reason);
                    let x1 = x0 + (x_to - x0) * f;
                    let y1 = scale.y(t).max(y0 + 10.0);
                    svg.line(x0, y0, x1, y1, &line_attrs);
                    svg.raw(r#"<g class="cross">"#);
                    cross(svg, x1, y1, 5.0, DROP_COLOUR);
                    svg.raw("</g>");
                    (x1, y1)
                }
                Drawn::Fading => {
                    let y1 = bottom;
                    let (dx, dy) = (x_to - x0, y1 - y0);
                    // Three segments fading out: it had not arrived when the window ended.
                    for (k, opacity) in [(0.0, 0.9), (1.0, 0.5), (2.0, 0.2)] {
                        let (a, b) = (k / 3.0 * 0.6, (k + 1.0) / 3.0 * 0.6);
                        svg.line(
                            x0 + dx * a,
                            y0 + dy * a,
                            x0 + dx * b,
                            y0 + dy * b,
                            &format!(
                                r#"{line_attrs} stroke-opacity="{opacity}" stroke-dasharray="4 3""#
                            ),
                        );
                    }
                    (x0 + dx * 0.6, y0 + dy * 0.6)
                }
            };
            if siblings.first() == Some(&m.id) {
                let label = if siblings.len() > 1 {
                    format!("{label} (×{})", siblings.len())
                } else {
                    label
                };
                self.arrow_label(svg, &mut placed, &label, (x0, y0), (x1, y1), colour, quorum);
            }
            svg.raw("</g>");
        }
    }

    /// An arrow's label with its fate: `heartbeat t2 c=26 ✕ partitioned`.
    fn full_label(&self, m: &MessageRecord) -> String {
        let label = arrow_label(m);
        match drawn(m, self.to_us) {
            Drawn::Delivered(_) => label,
            Drawn::Dropped(_, reason) => format!("{label} ✕ {}", reason.as_str()),
            Drawn::Fading => format!("{label} (in flight)"),
        }
    }

    /// Writes a label along the arrow from `a` to `b`, at the first spot that does not
    /// cover an earlier label (the middle if none is free).
    #[allow(clippy::too_many_arguments)]
    fn arrow_label(
        &self,
        svg: &mut Svg,
        placed: &mut Vec<LabelBox>,
        label: &str,
        a: (f64, f64),
        b: (f64, f64),
        colour: &str,
        quorum: Option<&Vec<u64>>,
    ) {
        let width = label.chars().count() as f64 * LABEL_CHAR_PX;
        let at = |(f, dy): (f64, f64)| {
            let x = a.0 + (b.0 - a.0) * f;
            let y = a.1 + (b.1 - a.1) * f - 3.0 + dy;
            LabelBox {
                x0: x - width / 2.0,
                x1: x + width / 2.0,
                y0: y - LABEL_FONT_PX,
                y1: y + 1.0,
            }
        };
        // Along the arrow first, then nudged below it (and above) a line at a time.
        let along = [0.5, 0.38, 0.62, 0.26, 0.74, 0.15, 0.85];
        let nudges = [0.0, 12.0, -12.0, 24.0, 36.0];
        let chosen = nudges
            .iter()
            .flat_map(|dy| along.iter().map(move |f| (*f, *dy)))
            .map(at)
            .find(|bx| placed.iter().all(|p| !p.overlaps(bx)))
            .unwrap_or_else(|| at((0.5, 0.0)));
        placed.push(chosen);
        let weight = if quorum.is_some() {
            r#" font-weight="bold""#
        } else {
            ""
        };
        svg.text(
            (chosen.x0 + chosen.x1) / 2.0,
            chosen.y1 - 1.0,
            label,
            &format!(
                r#"text-anchor="middle" font-size="{}" fill="{colour}"{weight} paint-order="stroke" stroke="white" stroke-width="2.5""#,
                num(LABEL_FONT_PX)
            ),
        );
    }

    fn commit_marks(&self, svg: &mut Svg, scale: &TimeScale) {
        for q in self.quorums {
            let x = self.lane_x(q.leader);
            let y = scale.y(q.t_us);
            let acks: Vec<String> = q.acks.iter().map(|a| a.0.to_string()).collect();
            svg.raw(&format!(
                r#"<g class="commit" data-node="{}" data-term="{}" data-index="{}" data-t-us="{}" data-acks="{}" data-majority="{}">"#,
                q.leader,
                q.term,
                q.index,
                q.t_us,
                acks.join(" "),
                q.majority
            ));
            let colour = if q.majority { "#111" } else { QUORUM_COLOUR };
            svg.raw(&format!(
                r#"<polygon points="{},{} {},{} {},{} {},{}" fill="{colour}"/>"#,
                num(x),
                num(y - 6.0),
                num(x + 6.0),
                num(y),
                num(x),
                num(y + 6.0),
                num(x - 6.0),
                num(y)
            ));
            let senders: Vec<String> = q
                .acks
                .iter()
                .filter_map(|id| self.shown.iter().find(|m| m.id == *id))
                .map(|m| self.model.name(m.from).to_string())
                .collect();
            let text = if q.majority {
                let with = if senders.len() == q.acks.len() && !senders.is_empty() {
                    format!(" (self + {})", senders.join(", "))
                } else {
                    String::new()
                };
                format!("commit {}{with}", q.index)
            } else {
                format!(
                    "commit {} WITHOUT a majority ({} of {} acks)",
                    q.index,
                    q.acks.len(),
                    majority(self.model.servers.len()) - 1
                )
            };
            svg.text(
                x - 9.0,
                y + 4.0,
                &text,
                &format!(
                    r#"text-anchor="end" fill="{colour}" font-weight="bold" paint-order="stroke" stroke="white" stroke-width="3""#
                ),
            );
            svg.raw("</g>");
        }
    }

    fn op_marks(&self, svg: &mut Svg, scale: &TimeScale) {
        for op in &self.model.ops {
            if !self.lane.contains_key(&op.client) {
                continue;
            }
            let x = self.lane_x(op.client);
            let what = match &op.key {
                Some(k) => format!("{} {k}", op.f),
                None => op.f.clone(),
            };
            if self.from_us <= op.invoke_us && op.invoke_us <= self.to_us {
                let y = scale.y(op.invoke_us);
                svg.raw(&format!(
                    r#"<g class="op invoke" data-op="{}" data-t-us="{}">"#,
                    op.op.0, op.invoke_us
                ));
                svg.raw(&format!(
                    r##"<polygon points="{},{} {},{} {},{}" fill="#2e7d32"/>"##,
                    num(x - 14.0),
                    num(y - 5.0),
                    num(x - 6.0),
                    num(y),
                    num(x - 14.0),
                    num(y + 5.0)
                ));
                svg.text(
                    x - 17.0,
                    y + 4.0,
                    &format!("{} invoke {}", op.op, shorten(&what, 24)),
                    r##"text-anchor="end" fill="#2e7d32" font-size="10" paint-order="stroke" stroke="white" stroke-width="2.5""##,
                );
                svg.raw("</g>");
            }
            if let Some(t) = op
                .complete_us
                .filter(|t| self.from_us <= *t && *t <= self.to_us)
            {
                let y = scale.y(t);
                let (mark, word, colour) = match op.end {
                    OpEnd::Ok => ("✓", "ok", "#2e7d32"),
                    OpEnd::Fail => ("✗", "fail", "#c0392b"),
                    OpEnd::Info => ("?", "unknown", "#b7950b"),
                };
                svg.raw(&format!(
                    r#"<g class="op complete" data-op="{}" data-t-us="{t}" data-end="{word}">"#,
                    op.op.0
                ));
                svg.text(
                    x - 8.0,
                    y + 4.0,
                    &format!("{} {word} {mark}", op.op),
                    &format!(
                        r#"text-anchor="end" fill="{colour}" font-size="10" font-weight="bold" paint-order="stroke" stroke="white" stroke-width="2.5""#
                    ),
                );
                svg.raw("</g>");
            }
        }
    }

    fn mermaid(&self, note: &str) -> String {
        // Items in time order; ties broken by the trace event that caused them, so a
        // commit follows the ack that made it and a heal comes before what it let through.
        let mut items: Vec<(u64, u64, u8, String)> = Vec::new();
        let all = {
            let first = self
                .nodes
                .first()
                .map(NodeId::to_string)
                .unwrap_or_default();
            let last = self.nodes.last().map(NodeId::to_string).unwrap_or_default();
            if first == last {
                first
            } else {
                format!("{first},{last}")
            }
        };
        for p in &self.model.partitions {
            let Some((s, e)) = self.clip(p.start_us, p.end_us) else {
                continue;
            };
            let start_event = self
                .model
                .faults
                .iter()
                .find(|f| f.start_us == p.start_us)
                .map_or(0, |f| f.start_event.0);
            items.push((
                s,
                start_event,
                1,
                format!(
                    "    rect rgba(231, 76, 60, 0.12)\n    Note over {all}: {}",
                    mermaid_text(&format!(
                        "partition {} ({}–{})",
                        p.label,
                        seconds(p.start_us).trim_end_matches(" s"),
                        seconds(p.end_us)
                    ))
                ),
            ));
            // The block closes before anything at the heal instant (the period is
            // half-open), or after everything when it outlasts the window.
            let close = if p.end_us <= self.to_us {
                (e, 0, 0)
            } else {
                (u64::MAX, u64::MAX, 9)
            };
            items.push((close.0, close.1, close.2, "    end".into()));
        }
        for f in &self.model.faults {
            if matches!(f.kind, "partition" | "isolate" | "cut-link") {
                continue;
            }
            if let Some((s, _)) = self.clip(f.start_us, f.end_us) {
                let over = f
                    .nodes
                    .iter()
                    .find(|n| self.lane.contains_key(n))
                    .map_or(all.clone(), NodeId::to_string);
                items.push((
                    s,
                    f.start_event.0,
                    2,
                    format!(
                        "    Note over {over}: {}",
                        mermaid_text(&format!("fault: {}", f.label))
                    ),
                ));
            }
        }
        for r in &self.model.roles {
            if r.role != Role::Leader || !self.lane.contains_key(&r.node) {
                continue;
            }
            if let Some((s, _)) = self.clip(r.start_us, r.end_us) {
                let since = if r.start_us < self.from_us {
                    format!(" (since {})", seconds(r.start_us))
                } else {
                    String::new()
                };
                items.push((
                    s,
                    r.start_event.0,
                    3,
                    format!("    Note over {}: leader t{}{since}", r.node, r.term),
                ));
            }
        }
        let quorum_of: BTreeMap<MessageId, u64> = self
            .quorums
            .iter()
            .flat_map(|q| q.acks.iter().map(move |a| (*a, q.index)))
            .collect();
        for m in self.shown {
            let label = mermaid_text(&arrow_label(m));
            let line = match drawn(m, self.to_us) {
                Drawn::Delivered(_) => match quorum_of.get(&m.id) {
                    Some(i) => format!(
                        "    {}->>{}: {label} ★ quorum ack for commit {i}",
                        m.from, m.to
                    ),
                    None => format!("    {}->>{}: {label}", m.from, m.to),
                },
                Drawn::Dropped(_, reason) => format!(
                    "    {}-x{}: {label} (dropped: {})",
                    m.from,
                    m.to,
                    reason.as_str()
                ),
                Drawn::Fading => format!("    {}-){}: {label} (in flight)", m.from, m.to),
            };
            items.push((m.sent_us, m.send_event.0, 4, line));
        }
        for q in self.quorums {
            let text = if q.majority {
                let acks: Vec<String> = q.acks.iter().map(MessageId::to_string).collect();
                format!("commit {} (t{}, acks {})", q.index, q.term, acks.join(" "))
            } else {
                format!("commit {} WITHOUT a majority", q.index)
            };
            items.push((
                q.t_us,
                q.event.0,
                5,
                format!("    Note over {}: {}", q.leader, mermaid_text(&text)),
            ));
        }
        items.sort();
        let mut out = String::from("sequenceDiagram\n");
        let _ = writeln!(out, "    %% {}", note.replace(['\n', ';'], " "));
        let servers: BTreeSet<NodeId> = self.model.servers.iter().copied().collect();
        for n in self.nodes {
            // Mermaid participants are bare tokens: the id, shown as the node's name.
            let name = self.model.name(*n);
            if servers.contains(n) || name.to_string() != n.to_string() {
                let _ = writeln!(out, "    participant {n} as {name}");
            } else {
                let _ = writeln!(out, "    participant {n} as {n} client");
            }
        }
        for (_, _, _, line) in items {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// Text safe inside a Mermaid message or note: `#` and `;` end or start entity codes and
/// statements, angle brackets and braces are read as markup; all become entity codes.
pub fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A filled arrow head at the end of the line from `(x0, y0)` to `(x1, y1)`.
fn arrow_head(svg: &mut Svg, x0: f64, y0: f64, x1: f64, y1: f64, colour: &str, stroke_px: f64) {
    let (dx, dy) = (x1 - x0, y1 - y0);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let size = 7.0 + stroke_px;
    let (bx, by) = (x1 - ux * size, y1 - uy * size);
    let (px, py) = (-uy * size * 0.45, ux * size * 0.45);
    svg.raw(&format!(
        r#"<polygon points="{},{} {},{} {},{}" fill="{colour}"/>"#,
        num(x1),
        num(y1),
        num(bx + px),
        num(by + py),
        num(bx - px),
        num(by - py)
    ));
}

/// A ✕ centred on `(x, y)`.
fn cross(svg: &mut Svg, x: f64, y: f64, r: f64, colour: &str) {
    let attrs = format!(r#"stroke="{colour}" stroke-width="2.5" stroke-linecap="round""#);
    svg.line(x - r, y - r, x + r, y + r, &attrs);
    svg.line(x - r, y + r, x + r, y - r, &attrs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::LayerRecord;

    fn message(kind: &str, fields: MessageFields) -> MessageRecord {
        let record = LayerRecord::new(fields);
        MessageRecord {
            id: MessageId(7),
            from: NodeId(2),
            to: NodeId(1),
            kind: kind.to_string(),
            detail: record.summary(),
            fields: Some(record),
            sent_us: 0,
            send_event: EventId(0),
            fate: Fate::InFlight,
        }
    }

    #[test]
    fn labels_read_the_typed_fields() {
        // The label once parsed `rejected_index:` out of text the driver no longer wrote,
        // and said "rejected at ?".
        let rejected = message(
            "append-entries-resp",
            MessageFields::AppendRejected {
                term: 3,
                rejected_index: 9,
                hint_index: 6,
                hint_term: 2,
            },
        );
        assert_eq!(arrow_label(&rejected), "append-resp t3 rejected at 9");
        assert_eq!(ack_match(&rejected), None);
        let accepted = message(
            "append-entries-resp",
            MessageFields::AppendAccepted {
                term: 3,
                match_index: 12,
            },
        );
        assert_eq!(arrow_label(&accepted), "append-resp t3 ok match=12");
        assert_eq!(ack_match(&accepted), Some(12));
        let write = message(
            "client-write",
            MessageFields::Request {
                request: 4,
                op: "put count=5".into(),
            },
        );
        assert_eq!(arrow_label(&write), "client-write req=4 put count=5");
    }

    #[test]
    fn gaps_keep_order_and_grow_with_time() {
        assert_eq!(gap_px(0), 0.0);
        let (a, b, c) = (gap_px(1), gap_px(1_000), gap_px(300_000));
        assert!(ROW_MIN_PX <= a && a < b && b < c && c <= GAP_MAX_PX);
    }

    #[test]
    fn mermaid_text_escapes_what_mermaid_parses() {
        assert_eq!(
            mermaid_text("a;b #c <d> {e}"),
            "a#59;b #35;c #lt;d#gt; #123;e#125;"
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(18403), "18 403");
        assert_eq!(grouped(212), "212");
        assert_eq!(grouped(1_000_000), "1 000 000");
    }
}
