//! Clock skew: only the skewed node's local clock moves, within the fault limit.

use std::time::Duration;

use sim_core::{FaultOp, NodeCtx, Sim, SimTime};

use crate::probe::*;

/// Records `local_now_us - now` every 100 ms, offset by 50 ms from the fault times.
async fn clock_reader(ctx: NodeCtx<Hello>) {
    let mut next = SimTime::from_ms(50);
    loop {
        ctx.sleep_until(next).await;
        let skew = ctx.local_now_us() - ctx.now().as_us() as i64;
        ctx.note("skew", skew.to_string());
        next = next.after(Duration::from_millis(100));
    }
}

#[test]
fn clock_skew_shifts_only_that_nodes_local_clock_until_reset_to_zero() {
    let run = Sim::new(4)
        .nodes(2, clock_reader)
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::ClockSkew {
                    node: n(1),
                    skew_ms: 250,
                },
            ),
            at(
                2_000,
                FaultOp::ClockSkew {
                    node: n(1),
                    skew_ms: -400,
                },
            ),
            at(
                3_000,
                FaultOp::ClockSkew {
                    node: n(1),
                    skew_ms: 0,
                },
            ),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(4_000)).await;
        })
        .expect("a valid world");
    let expected = |t: SimTime| match t.as_ms() {
        0..=999 => 0,
        1_000..=1_999 => 250_000,
        2_000..=2_999 => -400_000,
        _ => 0,
    };
    let n1 = notes(&run.trace, n(1), "skew");
    assert_eq!(n1.len(), 40);
    for (_, t, skew) in &n1 {
        assert_eq!(skew.parse::<i64>().unwrap(), expected(*t), "n1 at {t}");
    }
    let n2 = notes(&run.trace, n(2), "skew");
    assert_eq!(n2.len(), 40);
    for (_, t, skew) in &n2 {
        assert_eq!(skew, "0", "n2 at {t} is not skewed");
    }
}

/// `clock-skew` refuses skews beyond the fault limit, and a node reading its clock under
/// the largest allowed one gets a reading, not a panic inside sim-core.
#[test]
fn extreme_clock_skews_are_refused_or_read_without_panic() {
    let too_far = schedule(vec![at(
        10,
        FaultOp::ClockSkew {
            node: n(1),
            skew_ms: i64::MAX,
        },
    )]);
    let err = too_far.validate(&[n(1)]).unwrap_err().to_string();
    assert!(
        err.contains("skew_ms") && err.contains("too large"),
        "{err}"
    );
    for skew_ms in [
        sim_core::fault::MAX_FAULT_VALUE as i64,
        -(sim_core::fault::MAX_FAULT_VALUE as i64),
    ] {
        let faults = schedule(vec![at(
            10,
            FaultOp::ClockSkew {
                node: n(1),
                skew_ms,
            },
        )]);
        faults.validate(&[n(1)]).expect("the largest skew is valid");
        let run = Sim::new(4)
            .node(clock_reader)
            .faults(faults)
            .run(|world| async move {
                world.sleep(Duration::from_millis(200)).await;
            })
            .expect("a valid world");
        let skews = notes(&run.trace, n(1), "skew");
        assert_eq!(skews.len(), 2, "{skews:?}");
        assert_eq!(
            skews[1].2.parse::<i64>().unwrap(),
            skew_ms * 1000,
            "{skews:?}"
        );
    }
}
