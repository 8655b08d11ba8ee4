//! Statements sent together on one connection. tokio-postgres writes a statement to the server
//! when its future is first polled and reads the answers in the order sent; so polling several
//! once, in order, puts them on the wire one behind the other: the server runs them in that
//! order, each as if sent alone (under READ COMMITTED each takes its own snapshot when it
//! starts, after the ones before it have finished), and their answers come back in one round
//! trip instead of one each.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use tokio_postgres::{Error, Row};

/// A statement's answer to come: its rows.
pub(super) type Pending<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, Error>> + Send + 'a>>;

/// Runs `statements` in their order, in one round trip; the rows of each, in the same order,
/// or the first error met (the others are then dropped, their answers discarded).
pub(super) async fn in_order(mut statements: Vec<Pending<'_>>) -> Result<Vec<Vec<Row>>, Error> {
    let mut answers: Vec<Option<Vec<Row>>> = statements.iter().map(|_| None).collect();
    poll_fn(|cx| {
        // Polled in order every time, so that the first poll sends them in order.
        for (statement, answer) in statements.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none()
                && let Poll::Ready(rows) = statement.as_mut().poll(cx)
            {
                *answer = Some(rows?);
            }
        }
        if answers.iter().all(Option::is_some) {
            Poll::Ready(Ok(answers
                .iter_mut()
                .map(|a| a.take().unwrap_or_default())
                .collect()))
        } else {
            Poll::Pending
        }
    })
    .await
}
