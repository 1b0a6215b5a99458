//! Client and server of net/rpc against each other, over an in-memory stream.

use super::{NetRpcError, RpcClient, RpcServer};
use crate::transport::io::BoxedIo;

fn pair() -> (RpcClient, tokio::task::JoinHandle<()>) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut methods = RpcServer::new();
    methods
        .method(
            "T.Echo",
            |v: Vec<Option<u32>>| async move { Ok::<_, String>(v) },
        )
        .method("T.Holes", |n: u32| async move {
            Ok::<_, String>(vec![None::<u32>; n as usize])
        })
        .method_without_args("T.Hello", || async { Ok::<_, String>("hello".to_string()) });
    let serving = tokio::spawn(methods.serve(BoxedIo::new(server)));
    (
        RpcClient::new(BoxedIo::new(client), "test peer", None),
        serving,
    )
}

#[tokio::test]
async fn a_reply_that_does_not_encode_is_an_error_and_the_stream_goes_on() {
    let (client, serving) = pair();
    // The very first answer fails: the header's type definition must still reach us.
    match client.call::<u32, Vec<Option<u32>>>("T.Holes", &2).await {
        Err(NetRpcError::Remote(text)) => {
            assert!(
                text.contains("reply to T.Holes could not be encoded"),
                "{text}"
            )
        }
        other => panic!("expected the encoding error, got {other:?}"),
    }
    let hello: String = client.call_without_args("T.Hello").await.unwrap();
    assert_eq!(hello, "hello");
    drop(client);
    serving.await.unwrap();
}

#[tokio::test]
async fn arguments_that_do_not_encode_fail_the_call_alone() {
    let (client, serving) = pair();
    let bad = vec![Some(1), None];
    match client.call::<_, Vec<Option<u32>>>("T.Echo", &bad).await {
        Err(NetRpcError::Gob { method, .. }) => assert_eq!(method, "T.Echo"),
        other => panic!("expected a gob error, got {other:?}"),
    }
    let good = vec![Some(1), Some(2)];
    let echoed: Vec<Option<u32>> = client.call("T.Echo", &good).await.unwrap();
    assert_eq!(echoed, good);
    match client.call::<u32, String>("T.Missing", &1).await {
        Err(NetRpcError::Remote(text)) => assert_eq!(text, "rpc: can't find method T.Missing"),
        other => panic!("expected net/rpc's error, got {other:?}"),
    }
    match client.call::<u32, String>("Nope.Missing", &1).await {
        Err(NetRpcError::Remote(text)) => {
            assert_eq!(text, "rpc: can't find service Nope.Missing")
        }
        other => panic!("expected net/rpc's error, got {other:?}"),
    }
    drop(client);
    serving.await.unwrap();
}

#[tokio::test]
async fn calls_after_the_peer_closed_fail_with_shutdown() {
    let (client, server) = tokio::io::duplex(1024);
    let client = RpcClient::new(BoxedIo::new(client), "test peer", None);
    drop(server);
    match client.call::<u32, u32>("T.Echo", &1).await {
        Err(e @ NetRpcError::Shutdown { .. }) => {
            assert!(
                e.to_string()
                    .contains("connection to test peer is shut down"),
                "{e}"
            )
        }
        other => panic!("expected a shutdown, got {other:?}"),
    }
}
