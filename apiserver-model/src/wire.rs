//! The control plane's messages: etcd's traffic (the API servers are etcd's only clients)
//! and the API's, in one world.
//!
//! The API's traffic is modelled at the level kube-apiserver's handlers see it: a request
//! (verb, resource, namespace, name, body, list options, bearer token) and its answer, each
//! one datagram, matched by a request id as HTTP/2 matches a response to its stream. A watch
//! is a request whose answer opens a stream: the events follow as [`ApiMsg::WatchEvent`]s
//! numbered from 1, so the client can put them back in order and tell a lost one (the
//! network may reorder or drop datagrams; a real watch rides TCP, where a loss breaks the
//! connection, so here a gap ends the watch and the client resumes it). The client checks
//! that a quiet stream's server still holds it with [`ApiMsg::Ping`], as client-go's HTTP/2
//! health check pings an idle connection.

use serde::{Deserialize, Serialize};

use raft::etcd::EtcdMsg;
use sim_core::{Carries, LayerEvent, LayerRecord, Message};

use crate::apiserver::{Reply, Request};
use crate::status::ApiError;
use crate::verb::Verb;
use crate::watch_cache::{EventType, WatchEvent};

/// Every message of a control-plane world.
#[derive(Debug)]
pub enum ControlPlaneMsg {
    /// Between etcd members, or between an API server and etcd.
    Etcd(EtcdMsg),
    /// Between an API client (kubectl, a controller, the scheduler, a kubelet) and an API
    /// server.
    Api(ApiMsg),
}

/// The API's messages.
#[derive(Debug)]
pub enum ApiMsg {
    /// A client's request; `id` is unique per client and names the watch a watch request
    /// opens.
    Request {
        /// The request id.
        id: u64,
        /// What it asks.
        request: Box<Request>,
    },
    /// The answer to request `id`: for a watch, whether the stream opened.
    Reply {
        /// The request answered.
        id: u64,
        /// Its HTTP code (201 for a create, 200 for another success, the error's otherwise).
        code: u16,
        /// The answer.
        reply: Box<Reply>,
    },
    /// One event of watch `watch`, the `seq`-th of its stream (from 1).
    WatchEvent {
        /// The watch (its request's id).
        watch: u64,
        /// Position in the stream.
        seq: u64,
        /// The event.
        event: Box<WatchEvent>,
    },
    /// The server closed watch `watch` after `seq` events (its timeout passed, or it can no
    /// longer serve it: `error` says why).
    WatchEnd {
        /// The watch.
        watch: u64,
        /// Events sent before the end.
        seq: u64,
        /// Why, if not a timeout.
        error: Option<ApiError>,
    },
    /// The client no longer reads watch `watch`.
    StopWatch {
        /// The watch.
        watch: u64,
    },
    /// The client asks whether watch `watch` is still held (an idle stream's health check).
    Ping {
        /// The watch.
        watch: u64,
    },
    /// The server's answer: whether it holds the watch.
    Pong {
        /// The watch.
        watch: u64,
        /// Whether it is held (false after a restart, or once it ended).
        held: bool,
    },
}

/// An API message's key fields, for the trace and the sequence diagrams (the resourceVersion
/// on each arrow of the pod-lifecycle story).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ApiMessageFields {
    /// A request.
    Request {
        /// The request id.
        id: u64,
        /// The verb.
        verb: Verb,
        /// `pods`, `deployments.apps`, with `/binding` for a subresource.
        resource: String,
        /// The namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// The object's name (a create's, from its body).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The resourceVersion asked for (a list or watch's) or sent (an update's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_version: Option<String>,
    },
    /// An answer.
    Reply {
        /// The request answered.
        id: u64,
        /// Its HTTP code.
        code: u16,
        /// The resourceVersion of the object or list returned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_version: Option<String>,
    },
    /// A watch event.
    WatchEvent {
        /// The watch.
        watch: u64,
        /// Position in its stream.
        seq: u64,
        /// ADDED, MODIFIED, DELETED or BOOKMARK.
        event: EventType,
        /// The object's name (none for a bookmark).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The event's revision.
        resource_version: u64,
    },
    /// A watch's end, a stop, a ping or its answer.
    Watch {
        /// The watch.
        watch: u64,
    },
}

impl LayerEvent for ApiMessageFields {
    const LAYER: &'static str = "api-message";

    fn summary(&self) -> String {
        match self {
            ApiMessageFields::Request {
                verb,
                resource,
                name,
                resource_version,
                ..
            } => {
                let mut s = format!("{verb} {resource}");
                if let Some(name) = name {
                    s.push_str(&format!(" {name}"));
                }
                if let Some(rv) = resource_version {
                    s.push_str(&format!(" rv={rv}"));
                }
                s
            }
            ApiMessageFields::Reply {
                code,
                resource_version,
                ..
            } => match resource_version {
                Some(rv) => format!("{code} rv={rv}"),
                None => code.to_string(),
            },
            ApiMessageFields::WatchEvent {
                event,
                name,
                resource_version,
                ..
            } => match name {
                Some(name) => format!("{event:?} {name} rv={resource_version}"),
                None => format!("{event:?} rv={resource_version}"),
            },
            ApiMessageFields::Watch { watch } => format!("watch {watch}"),
        }
    }
}

/// `pods`, `deployments.apps`, `pods/binding`: a request's resource as audit records and
/// diagrams write it.
pub fn resource_label(request: &Request) -> String {
    let mut resource = if request.group.is_empty() {
        request.resource.clone()
    } else {
        format!("{}.{}", request.resource, request.group)
    };
    if let Some(sub) = &request.subresource {
        resource = format!("{resource}/{sub}");
    }
    resource
}

/// The name a request is about: its URL's, or for a create the body's.
pub fn request_name(request: &Request) -> Option<String> {
    request.name.clone().or_else(|| {
        request
            .body
            .as_ref()
            .and_then(|b| b.pointer("/metadata/name"))
            .and_then(|n| n.as_str())
            .map(str::to_string)
    })
}

fn resource_version_of(object: &serde_json::Value) -> Option<String> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

impl ApiMsg {
    fn kind(&self) -> &'static str {
        match self {
            ApiMsg::Request { request, .. } => match request.verb {
                Verb::Get => "api-get",
                Verb::List => "api-list",
                Verb::Watch => "api-watch",
                Verb::Create => "api-create",
                Verb::Update => "api-update",
                Verb::Patch => "api-patch",
                Verb::Delete => "api-delete",
                Verb::DeleteCollection => "api-deletecollection",
            },
            ApiMsg::Reply { reply, .. } => match reply.as_ref() {
                Ok(_) => "api-ok",
                Err(_) => "api-error",
            },
            ApiMsg::WatchEvent { .. } => "api-watch-event",
            ApiMsg::WatchEnd { .. } => "api-watch-end",
            ApiMsg::StopWatch { .. } => "api-stop-watch",
            ApiMsg::Ping { .. } => "api-ping",
            ApiMsg::Pong { .. } => "api-pong",
        }
    }

    fn fields(&self) -> ApiMessageFields {
        match self {
            ApiMsg::Request { id, request } => ApiMessageFields::Request {
                id: *id,
                verb: request.verb,
                resource: resource_label(request),
                namespace: request.namespace.clone(),
                name: request_name(request),
                resource_version: request
                    .list
                    .resource_version
                    .clone()
                    .or_else(|| request.body.as_ref().and_then(resource_version_of)),
            },
            ApiMsg::Reply { id, code, reply } => ApiMessageFields::Reply {
                id: *id,
                code: *code,
                resource_version: (**reply).as_ref().ok().and_then(resource_version_of),
            },
            ApiMsg::WatchEvent { watch, seq, event } => ApiMessageFields::WatchEvent {
                watch: *watch,
                seq: *seq,
                event: event.kind,
                name: event
                    .object
                    .pointer("/metadata/name")
                    .and_then(|n| n.as_str())
                    .map(str::to_string),
                resource_version: event.revision.0,
            },
            ApiMsg::WatchEnd { watch, .. }
            | ApiMsg::StopWatch { watch }
            | ApiMsg::Ping { watch }
            | ApiMsg::Pong { watch, .. } => ApiMessageFields::Watch { watch: *watch },
        }
    }
}

impl Message for ControlPlaneMsg {
    fn kind(&self) -> &'static str {
        match self {
            ControlPlaneMsg::Etcd(m) => m.kind(),
            ControlPlaneMsg::Api(m) => m.kind(),
        }
    }

    fn fields(&self) -> Option<LayerRecord> {
        match self {
            ControlPlaneMsg::Etcd(m) => m.fields(),
            ControlPlaneMsg::Api(m) => Some(LayerRecord::new(m.fields())),
        }
    }
}

impl Carries<EtcdMsg> for ControlPlaneMsg {
    fn wrap(inner: EtcdMsg) -> Self {
        ControlPlaneMsg::Etcd(inner)
    }

    fn unwrap(self) -> Result<EtcdMsg, Self> {
        match self {
            ControlPlaneMsg::Etcd(m) => Ok(m),
            other => Err(other),
        }
    }
}

impl Carries<ApiMsg> for ControlPlaneMsg {
    fn wrap(inner: ApiMsg) -> Self {
        ControlPlaneMsg::Api(inner)
    }

    fn unwrap(self) -> Result<ApiMsg, Self> {
        match self {
            ControlPlaneMsg::Api(m) => Ok(m),
            other => Err(other),
        }
    }
}
