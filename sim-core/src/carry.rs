//! One world, several layers' messages: a world's message type may carry the messages of
//! the layers below it, so their actors run unchanged in a bigger world.
//!
//! A world has one message type (the mailboxes, the trace and the faults are typed by it).
//! An etcd world's is etcd's own; a control-plane world carries etcd's traffic beside the
//! API's, in one enum. [`Carries`] is how an etcd member or client, written against its own
//! messages, runs in such a world: it wraps what it sends and takes out of each delivery
//! what is its own. Every message type carries itself, so a world of only one layer needs
//! nothing. The enum's [`crate::Message`] impl names each carried message by its own kind
//! and fields, so a layer's traffic reads the same in every world that carries it.

use crate::world::{Envelope, Message};

/// A world message type that can carry a layer's messages `T`.
pub trait Carries<T>: Message + Sized {
    /// `inner` as a world message.
    fn wrap(inner: T) -> Self;

    /// The layer's message inside, or the world message back if it carries another
    /// layer's.
    fn unwrap(self) -> Result<T, Self>;
}

impl<M: Message> Carries<M> for M {
    fn wrap(inner: M) -> Self {
        inner
    }

    fn unwrap(self) -> Result<M, Self> {
        Ok(self)
    }
}

impl<M> Envelope<M> {
    /// This delivery with the layer's own message inside, or the delivery unchanged if it
    /// carries another layer's.
    ///
    /// # Errors
    ///
    /// The envelope itself when its message is not a `T`.
    pub fn narrow<T>(self) -> Result<Envelope<T>, Envelope<M>>
    where
        M: Carries<T>,
    {
        let Envelope {
            id,
            from,
            to,
            from_port,
            to_port,
            sent_at,
            msg,
        } = self;
        match msg.unwrap() {
            Ok(msg) => Ok(Envelope {
                id,
                from,
                to,
                from_port,
                to_port,
                sent_at,
                msg,
            }),
            Err(msg) => Err(Envelope {
                id,
                from,
                to,
                from_port,
                to_port,
                sent_at,
                msg,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Port;
    use crate::ids::{MessageId, NodeId};
    use crate::time::SimTime;

    #[derive(Debug, PartialEq)]
    struct Low(u8);
    impl Message for Low {
        fn kind(&self) -> &'static str {
            "low"
        }
    }

    #[derive(Debug, PartialEq)]
    enum World2 {
        Low(Low),
        High,
    }
    impl Message for World2 {
        fn kind(&self) -> &'static str {
            match self {
                World2::Low(l) => l.kind(),
                World2::High => "high",
            }
        }
    }
    impl Carries<Low> for World2 {
        fn wrap(inner: Low) -> Self {
            World2::Low(inner)
        }
        fn unwrap(self) -> Result<Low, Self> {
            match self {
                World2::Low(l) => Ok(l),
                other => Err(other),
            }
        }
    }

    fn envelope(msg: World2) -> Envelope<World2> {
        Envelope {
            id: MessageId(7),
            from: NodeId(1),
            to: NodeId(2),
            from_port: Port(3),
            to_port: Port::MAIN,
            sent_at: SimTime::from_ms(5),
            msg,
        }
    }

    #[test]
    fn a_world_message_gives_its_layer_what_it_carries_and_keeps_the_rest() {
        let low = envelope(World2::wrap(Low(9))).narrow::<Low>().unwrap();
        assert_eq!(
            (low.msg, low.id, low.from_port),
            (Low(9), MessageId(7), Port(3))
        );
        let high = envelope(World2::High).narrow::<Low>().unwrap_err();
        assert_eq!(
            (high.msg, high.sent_at),
            (World2::High, SimTime::from_ms(5))
        );
        // Every message type carries itself.
        assert_eq!(<Low as Carries<Low>>::unwrap(Low(1)), Ok(Low(1)));
    }
}
