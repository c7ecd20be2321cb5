//! The fault spans the viewer shades: each as a range of event ids rather than times, so
//! the page and the trace agree on which events a fault covered.

use sim_core::Trace;

use super::ViewerFault;
use crate::model::RunModel;

/// Each fault span as a range of event ids, so the page decides "active" by comparing ids,
/// exactly as the span's own start and end events do.
pub(super) fn viewer_faults(trace: &Trace, model: &RunModel) -> Vec<ViewerFault> {
    let past_end = trace.events.last().map_or(0, |e| e.id.0 + 1);
    model
        .faults
        .iter()
        .map(|span| {
            let to_event = match span.end_event {
                Some(end) => end.0,
                None if span.end_us >= model.end_us && span.end_us > span.start_us => past_end,
                None => {
                    // The first event after the span's end. Ids increase and times never
                    // decrease along the trace, so binary searches find it (a scan per
                    // fault was quadratic: 10 000 restarts over 6 M events took minutes).
                    let instant = span.end_us == span.start_us;
                    let from = trace
                        .events
                        .partition_point(|e| e.id.0 <= span.start_event.0);
                    let rest = &trace.events[from..];
                    let first_after = rest.partition_point(|e| {
                        if instant {
                            e.t_us.0 <= span.end_us
                        } else {
                            e.t_us.0 < span.end_us
                        }
                    });
                    rest.get(first_after).map_or(past_end, |e| e.id.0)
                }
            };
            ViewerFault {
                label: span.label.clone(),
                from_event: span.start_event.0,
                to_event,
                start_us: span.start_us,
                end_us: span.end_us,
            }
        })
        .collect()
}
