//! What a sequential specification must provide to be checked against.

use std::fmt::Debug;
use std::hash::Hash;

use serde_json::Value;

use super::operation::Operation;
use super::report::Counterexample;

/// A sequential specification: a state machine whose transitions say which answers an
/// operation may get in a given state.
///
/// The checker never sees JSON while searching: [`Model::decode`] turns each history
/// operation into a typed input and output once, and [`Model::step`] works on those.
pub trait Model {
    /// What the client asked (from the invocation's `f` and value). Two indeterminate
    /// operations with equal inputs are interchangeable, which the search uses.
    type Input: Clone + Debug + PartialEq;
    /// What it was told (from the `ok` completion's value).
    type Output: Clone + Debug;
    /// The specification's state. It is part of the search's memo key, hence `Hash + Eq`.
    type State: Clone + Debug + Eq + Hash;

    /// The model's name, as `--model` spells it.
    fn name(&self) -> &'static str;

    /// Whether operations act on independent keys, so that the history may be split per
    /// key and each part checked on its own (P-compositionality).
    fn keyed(&self) -> bool;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Reads one operation: its function `f`, its invocation value, and the `ok`
    /// completion's value (`None` when the outcome is unknown, so there is no output).
    ///
    /// # Errors
    ///
    /// A one-line description when the operation is not one this model knows.
    fn decode(
        &self,
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(Self::Input, Option<Self::Output>), String>;

    /// Pushes onto `next` every state the operation may leave behind when applied to
    /// `state` with answer `output`; pushes nothing when that answer is impossible.
    ///
    /// `output` is `None` for indeterminate operations: the model must then accept any
    /// answer, so it pushes every state the operation could produce.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
        next: &mut Vec<Self::State>,
    );

    /// Whether the operation never changes the state (a read). An indeterminate read-only
    /// operation is dropped before the search: placed anywhere, it changes nothing, and any
    /// answer is accepted.
    fn read_only(&self, input: &Self::Input) -> bool {
        let _ = input;
        false
    }

    /// Rewrites the inputs of one partition's operations, before it is searched, into a
    /// form that explains exactly the same answers but lets more operations and states
    /// compare equal (for instance, a written value that no answer ever shows matters only
    /// as "some value nobody read"). The default leaves them as they are.
    fn canonicalize(&self, part: &mut [Operation<Self>])
    where
        Self: Sized,
    {
        let _ = part;
    }

    /// A whole-history check across partitions, for models whose keys are not fully
    /// independent (etcd's global revision). `None` when nothing is wrong.
    fn cross_check(&self, ops: &[Operation<Self>]) -> Option<Counterexample>
    where
        Self: Sized,
    {
        let _ = ops;
        None
    }
}
