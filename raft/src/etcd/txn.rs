//! Transactions (etcd `server/etcdserver/txn`): compares, and applying a list of ops at
//! one revision. Single puts and deletes are applied as one-op lists through the same path,
//! so they keep the lease table in step the same way.

use std::cmp::Ordering;

use super::lease::LeaseTable;
use super::mvcc::{Mvcc, WriteTxn};
use super::request::{Compare, CompareResult, CompareTarget, RequestOp, TxnRequest};
use super::types::{EtcdError, KeyValue, Revision};
use super::{Response, ResponseHeader};

/// Whether a compare holds against the latest state (etcd `compareKV`). A missing key
/// compares as version, create revision, mod revision and lease 0, so
/// `CreateRevision == 0` tests absence; a value compare on a missing key is false.
pub fn compare_holds(mvcc: &Mvcc, compare: &Compare) -> bool {
    let kv = mvcc.get(&compare.key);
    let ordering = match (&compare.target, kv) {
        (CompareTarget::Value(_), None) => return false,
        (CompareTarget::Value(v), Some(kv)) => kv.value.as_str().cmp(v.as_str()),
        (CompareTarget::Version(v), kv) => kv.map_or(0, |kv| kv.version).cmp(v),
        (CompareTarget::CreateRevision(r), kv) => field(kv, |kv| kv.create_revision).cmp(r),
        (CompareTarget::ModRevision(r), kv) => field(kv, |kv| kv.mod_revision).cmp(r),
        (CompareTarget::Lease(l), kv) => kv.map_or(0, |kv| kv.lease.0).cmp(&l.0),
    };
    match compare.result {
        CompareResult::Equal => ordering == Ordering::Equal,
        CompareResult::NotEqual => ordering != Ordering::Equal,
        CompareResult::Greater => ordering == Ordering::Greater,
        CompareResult::Less => ordering == Ordering::Less,
    }
}

fn field(kv: Option<&KeyValue>, f: impl Fn(&KeyValue) -> Revision) -> Revision {
    kv.map_or(Revision::NONE, f)
}

/// Checks a branch before running it, so it fails whole or not at all (etcd
/// `checkRequests`): every put's lease exists, every range's revision is readable.
fn check_ops(mvcc: &Mvcc, leases: &LeaseTable, ops: &[RequestOp]) -> Result<(), EtcdError> {
    for op in ops {
        match op {
            RequestOp::Put(p) if p.lease.is_some() && !leases.contains(p.lease) => {
                return Err(EtcdError::LeaseNotFound)
            }
            RequestOp::Range(r) => {
                mvcc.check_read_revision(r.revision)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies `ops` at one revision after checking them. Returns the revision after, and one
/// response per op; every response's header carries that revision.
///
/// # Errors
///
/// [`EtcdError::LeaseNotFound`] for a put with an unknown lease, or a range's revision
/// error (see [`Mvcc::check_read_revision`]); nothing is written then.
pub fn apply_ops(
    mvcc: &mut Mvcc,
    leases: &mut LeaseTable,
    ops: &[RequestOp],
) -> Result<(Revision, Vec<Response>), EtcdError> {
    check_ops(mvcc, leases, ops)?;
    let mut w = mvcc.write();
    let mut responses: Vec<Response> = ops.iter().map(|op| apply_op(&mut w, leases, op)).collect();
    let revision = w.end();
    for r in &mut responses {
        set_revision(r, revision);
    }
    Ok((revision, responses))
}

/// Runs a txn: the compares pick a branch, which runs at one revision (etcd `Txn`).
/// Failures are [`Response::Error`]s.
pub fn apply_txn(mvcc: &mut Mvcc, leases: &mut LeaseTable, txn: &TxnRequest) -> Response {
    if let Err(e) = txn.validate() {
        return Response::Error(e);
    }
    let succeeded = txn.compare.iter().all(|c| compare_holds(mvcc, c));
    let branch = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    match apply_ops(mvcc, leases, branch) {
        Ok((revision, responses)) => Response::Txn {
            header: ResponseHeader { revision },
            succeeded,
            responses,
        },
        Err(e) => Response::Error(e),
    }
}

/// Applies one op inside a write, keeping leases in step: a put moves the key to its new
/// lease (or to none); a delete takes the key off its lease.
fn apply_op(w: &mut WriteTxn<'_>, leases: &mut LeaseTable, op: &RequestOp) -> Response {
    let header = ResponseHeader::default();
    match op {
        RequestOp::Range(r) => match w.range(r) {
            Ok(res) => Response::Range {
                header,
                kvs: res.kvs,
                count: res.count,
                more: res.more,
            },
            Err(e) => Response::Error(e),
        },
        RequestOp::Put(p) => {
            let prev = w.put(&p.key, &p.value, p.lease);
            let from = prev.as_ref().map_or(Default::default(), |kv| kv.lease);
            leases.move_key(&p.key, from, p.lease);
            Response::Put {
                header,
                prev_kv: if p.prev_kv { prev } else { None },
            }
        }
        RequestOp::DeleteRange(d) => {
            let deleted = w.delete_range(&d.range);
            for kv in &deleted {
                leases.move_key(&kv.key, kv.lease, Default::default());
            }
            Response::DeleteRange {
                header,
                deleted: deleted.len() as u64,
                prev_kvs: if d.prev_kv { deleted } else { Vec::new() },
            }
        }
    }
}

fn set_revision(response: &mut Response, revision: Revision) {
    match response {
        Response::Range { header, .. }
        | Response::Put { header, .. }
        | Response::DeleteRange { header, .. } => header.revision = revision,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::request::{PutRequest, RangeRequest};
    use crate::etcd::types::{KeyRange, LeaseId};

    fn cmp(key: &str, target: CompareTarget, result: CompareResult) -> Compare {
        Compare {
            key: key.into(),
            target,
            result,
        }
    }

    fn put(k: &str, v: &str) -> RequestOp {
        RequestOp::Put(PutRequest::new(k, v))
    }

    fn cas(expect_mod: u64, value: &str) -> TxnRequest {
        TxnRequest {
            compare: vec![cmp(
                "k",
                CompareTarget::ModRevision(Revision(expect_mod)),
                CompareResult::Equal,
            )],
            success: vec![put("k", value)],
            failure: vec![RequestOp::Range(RangeRequest::latest(KeyRange::key("k")))],
        }
    }

    #[test]
    fn cas_on_mod_revision_lets_one_writer_win() {
        let (mut m, mut l) = (Mvcc::new(), LeaseTable::new());
        // Create only if absent: mod revision 0.
        let r = apply_txn(&mut m, &mut l, &cas(0, "first"));
        assert!(
            matches!(r, Response::Txn { succeeded: true, header, .. } if header.revision == Revision(2))
        );
        // Two writers both read mod revision 2; the first wins, the second sees the winner.
        assert!(matches!(
            apply_txn(&mut m, &mut l, &cas(2, "a")),
            Response::Txn {
                succeeded: true,
                ..
            }
        ));
        match apply_txn(&mut m, &mut l, &cas(2, "b")) {
            Response::Txn {
                succeeded: false,
                header,
                responses,
            } => {
                assert_eq!(
                    header.revision,
                    Revision(3),
                    "a failed txn that only reads makes no revision"
                );
                let Response::Range { kvs, .. } = &responses[0] else {
                    panic!("{responses:?}")
                };
                assert_eq!(kvs[0].value, "a");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cas_on_value_and_missing_keys() {
        let (mut m, mut l) = (Mvcc::new(), LeaseTable::new());
        let on_value = |v: &str| TxnRequest {
            compare: vec![cmp(
                "k",
                CompareTarget::Value(v.into()),
                CompareResult::Equal,
            )],
            success: vec![put("k", "next")],
            failure: vec![],
        };
        // A value compare on a missing key is false, even for NotEqual.
        assert!(!compare_holds(
            &m,
            &cmp(
                "k",
                CompareTarget::Value("x".into()),
                CompareResult::NotEqual
            )
        ));
        assert!(compare_holds(
            &m,
            &cmp("k", CompareTarget::Version(0), CompareResult::Equal)
        ));
        assert!(compare_holds(
            &m,
            &cmp(
                "k",
                CompareTarget::Lease(LeaseId::NONE),
                CompareResult::Equal
            )
        ));
        m.put("k", "v1", LeaseId::NONE);
        assert!(matches!(
            apply_txn(&mut m, &mut l, &on_value("v0")),
            Response::Txn {
                succeeded: false,
                ..
            }
        ));
        assert!(matches!(
            apply_txn(&mut m, &mut l, &on_value("v1")),
            Response::Txn {
                succeeded: true,
                ..
            }
        ));
        assert_eq!(m.get("k").unwrap().value, "next");
        assert!(compare_holds(
            &m,
            &cmp("k", CompareTarget::Version(1), CompareResult::Greater)
        ));
        assert!(compare_holds(
            &m,
            &cmp("k", CompareTarget::Value("z".into()), CompareResult::Less)
        ));
    }

    #[test]
    fn a_txn_is_one_revision_and_reads_its_own_writes() {
        let (mut m, mut l) = (Mvcc::new(), LeaseTable::new());
        let txn = TxnRequest {
            compare: vec![],
            success: vec![
                put("a", "1"),
                RequestOp::Range(RangeRequest::latest(KeyRange::key("a"))),
                put("b", "2"),
            ],
            failure: vec![],
        };
        let Response::Txn {
            header, responses, ..
        } = apply_txn(&mut m, &mut l, &txn)
        else {
            panic!()
        };
        assert_eq!(header.revision, Revision(2));
        let Response::Range { kvs, .. } = &responses[1] else {
            panic!()
        };
        assert_eq!(kvs[0].value, "1");
        assert_eq!(m.get("b").unwrap().mod_revision, Revision(2));
        assert_eq!(
            m.events_since(Revision(2)).unwrap().next().unwrap().1.len(),
            2
        );
    }

    #[test]
    fn a_put_with_an_unknown_lease_fails_the_whole_branch() {
        let (mut m, mut l) = (Mvcc::new(), LeaseTable::new());
        let txn = TxnRequest {
            compare: vec![],
            success: vec![
                put("a", "1"),
                RequestOp::Put(PutRequest {
                    lease: LeaseId(7),
                    ..PutRequest::new("b", "2")
                }),
            ],
            failure: vec![],
        };
        assert_eq!(
            apply_txn(&mut m, &mut l, &txn),
            Response::Error(EtcdError::LeaseNotFound)
        );
        assert_eq!(m.current_revision(), Revision(1));
        assert!(m.get("a").is_none());
    }
}
