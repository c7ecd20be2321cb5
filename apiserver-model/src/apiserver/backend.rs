//! What the API server needs from etcd: transactions and ranges. The simulated API server
//! uses the etcd client over the network ([`EtcdClient`]); tests may use the store itself.

use raft::etcd::{
    ClientError, EtcdClient, EtcdError, EtcdMsg, KeyValue, RangeRequest, Revision, TxnRequest,
};
use sim_core::Carries;

use crate::storage::TxnAnswer;

/// Why etcd gave no answer the API server can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No answer in time (no quorum, cut off): the write may or may not have happened.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// etcd refused it.
    #[error("etcdserver: {0}")]
    Refused(EtcdError),
    /// etcd answered what the request did not ask for (a bug, not a fault).
    #[error("unexpected etcd answer: {0}")]
    Unexpected(String),
}

impl From<ClientError> for BackendError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Indeterminate => BackendError::Timeout,
            ClientError::Etcd(e) => BackendError::Refused(e),
        }
    }
}

/// etcd, as the API server uses it (kube-apiserver's storage through clientv3).
#[allow(async_fn_in_trait)] // Used by concrete types only, never as `dyn`, never sent across threads.
pub trait Backend {
    /// A transaction.
    async fn txn(&self, txn: TxnRequest) -> Result<TxnAnswer, BackendError>;
    /// A linearizable range read: the key-values and the store's revision.
    async fn range(&self, request: RangeRequest)
        -> Result<(Vec<KeyValue>, Revision), BackendError>;
}

impl<M: Carries<EtcdMsg>> Backend for EtcdClient<M> {
    async fn txn(&self, txn: TxnRequest) -> Result<TxnAnswer, BackendError> {
        Ok(EtcdClient::txn(self, txn).await?)
    }

    async fn range(
        &self,
        request: RangeRequest,
    ) -> Result<(Vec<KeyValue>, Revision), BackendError> {
        Ok(EtcdClient::range(self, request).await?)
    }
}
