use std::time::Duration;

use loona_hpack::{Decoder, Encoder};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;

/// How grpc C-core (Python's grpcio) names a plugin's unix socket in `:authority`.
const GRPC_CORE_AUTHORITY: &[u8] = b"tmp%2Fplugin2U6aw4jjOM";

fn request_fields(authority: &[u8]) -> Vec<(&[u8], &[u8])> {
    vec![
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/grpc.health.v1.Health/Check"),
        (b":authority", authority),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ]
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    FrameHead {
        len: payload.len(),
        kind,
        flags,
        stream,
    }
    .put(&mut out);
    out.extend_from_slice(payload);
    out.to_vec()
}

fn connection(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = PREFACE.to_vec();
    for f in frames {
        bytes.extend_from_slice(f);
    }
    bytes
}

/// The frames of `bytes` after the preface, as (head, payload).
fn split_frames(bytes: &[u8]) -> Vec<(FrameHead, Vec<u8>)> {
    assert_eq!(&bytes[..PREFACE.len()], PREFACE);
    let mut rest = &bytes[PREFACE.len()..];
    let mut frames = Vec::new();
    while let Some(head) = FrameHead::parse(rest) {
        frames.push((head, rest[FRAME_HEAD..FRAME_HEAD + head.len].to_vec()));
        rest = &rest[FRAME_HEAD + head.len..];
    }
    assert!(rest.is_empty(), "a truncated frame at the end");
    frames
}

fn decode_all(decoder: &mut Decoder<'static>, block: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    decoder.decode(block).expect("the rewritten block decodes")
}

fn authority_of(fields: &[(Vec<u8>, Vec<u8>)]) -> &[u8] {
    &fields
        .iter()
        .find(|(n, _)| n == b":authority")
        .expect(":authority")
        .1
}

#[test]
fn a_grpc_core_authority_that_h2_refuses_becomes_one_it_accepts() {
    // The control: h2 checks `:authority` exactly this way and resets the stream.
    assert!(http::uri::Authority::try_from(GRPC_CORE_AUTHORITY).is_err());
    // grpc C-core sends it as a literal with incremental indexing, name from the static table.
    let mut block = vec![0x41];
    let _ = loona_hpack::encoder::encode_integer_into(GRPC_CORE_AUTHORITY.len(), 7, 0, &mut block);
    block.extend_from_slice(GRPC_CORE_AUTHORITY);
    let rewritten = rewrite_header_block(&block).unwrap();
    let fields = Decoder::new().decode(&rewritten).unwrap();
    assert_eq!(fields, [(b":authority".to_vec(), b"localhost".to_vec())]);
    assert!(http::uri::Authority::try_from(authority_of(&fields)).is_ok());
}

#[test]
fn unusual_authorities_are_replaced_and_valid_ones_kept() {
    for bad in [
        &b""[..],
        b"/tmp/plugin123",
        b"tmp%2Fplugin123",
        b"unix:/tmp/plugin123",
        b"a b",
        b"\xff\xfe",
    ] {
        let block = Encoder::new().encode(request_fields(bad));
        let fields = Decoder::new()
            .decode(&rewrite_header_block(&block).unwrap())
            .unwrap();
        assert_eq!(authority_of(&fields), b"localhost", "{bad:?}");
    }
    for good in [&b"localhost"[..], b"127.0.0.1:4000", b"[::1]:1", b"plugin"] {
        let block = Encoder::new().encode(request_fields(good));
        let fields = Decoder::new()
            .decode(&rewrite_header_block(&block).unwrap())
            .unwrap();
        assert_eq!(authority_of(&fields), good);
    }
}

#[test]
fn every_other_field_arrives_unchanged_and_in_order() {
    let mut fields = request_fields(b"localhost");
    fields.push((b"grpc-timeout", b"99m"));
    fields.push((b"x-custom", b"\x01binary-ish\x7f"));
    let block = Encoder::new().encode(fields.clone());
    let decoded = Decoder::new()
        .decode(&rewrite_header_block(&block).unwrap())
        .unwrap();
    let expected: Vec<_> = fields
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(decoded, expected);
}

#[test]
fn the_dynamic_table_follows_the_client_across_blocks() {
    // The client's encoder indexes the bad authority in the first block and refers to it by
    // index in the second; h2 sees both as literals.
    let mut encoder = Encoder::new();
    let first = encoder.encode(request_fields(GRPC_CORE_AUTHORITY));
    let second = encoder.encode(request_fields(GRPC_CORE_AUTHORITY));
    assert!(
        second.len() < first.len(),
        "the second block uses the table"
    );
    let data = frame(0x0, END_STREAM, 1, &[0, 0, 0, 0, 0]);
    let input = connection(&[
        frame(0x4, 0, 0, &[]),
        frame(HEADERS, END_HEADERS, 1, &first),
        data.clone(),
        frame(HEADERS, END_HEADERS | END_STREAM, 3, &second),
    ]);
    let output = rewrite_client_bytes(&input).unwrap();
    let frames = split_frames(&output);
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[0].0.kind, 0x4);
    // h2's decoder starts from an empty table: every block stands alone.
    for (i, stream) in [(1, 1), (3, 3)] {
        let (head, payload) = &frames[i];
        assert_eq!((head.kind, head.stream), (HEADERS, stream));
        let fields = decode_all(&mut Decoder::new(), payload);
        assert_eq!(authority_of(&fields), b"localhost");
        assert_eq!(fields.len(), 6);
    }
    assert_eq!(frames[3].0.flags, END_HEADERS | END_STREAM);
    // The DATA frame went through byte for byte.
    let data_at = PREFACE.len() + FRAME_HEAD + FRAME_HEAD + frames[1].1.len();
    assert_eq!(&output[data_at..data_at + data.len()], &data[..]);
}

#[test]
fn a_connection_whose_first_authority_is_valid_goes_to_h2_as_it_came() {
    // Go's and Rust's stacks: the first block needs nothing, so nothing is decoded after it,
    // and h2 gets the client's bytes (its table follows the client's, indexed fields and all).
    let mut encoder = Encoder::new();
    let first = encoder.encode(request_fields(b"localhost"));
    let second = encoder.encode(request_fields(b"localhost"));
    let input = connection(&[
        frame(0x4, 0, 0, &[]),
        frame(HEADERS, END_HEADERS, 1, &first),
        frame(0x0, END_STREAM, 1, &[0, 0, 0, 0, 0]),
        frame(HEADERS, END_HEADERS | END_STREAM, 3, &second),
        // Not even a malformed block is looked at any more: h2 answers for itself.
        frame(CONTINUATION, END_HEADERS, 5, &[0xff]),
    ]);
    assert_eq!(rewrite_client_bytes(&input).unwrap(), input);
}

#[test]
fn padding_is_dropped_priority_kept_and_continuations_joined() {
    let block = Encoder::new().encode(request_fields(b"/tmp/plugin"));
    let (a, b) = block.split_at(block.len() / 2);
    let priority = [0x80, 0, 0, 7, 200];
    let mut payload = vec![3];
    payload.extend_from_slice(&priority);
    payload.extend_from_slice(a);
    payload.extend_from_slice(&[0, 0, 0]);
    let input = connection(&[
        frame(HEADERS, PADDED | PRIORITY | END_STREAM, 5, &payload),
        frame(CONTINUATION, END_HEADERS, 5, b),
    ]);
    let frames = split_frames(&rewrite_client_bytes(&input).unwrap());
    assert_eq!(frames.len(), 1);
    let (head, payload) = &frames[0];
    assert_eq!(head.flags, PRIORITY | END_STREAM | END_HEADERS);
    assert_eq!(head.stream, 5);
    assert_eq!(payload[..5], priority);
    let fields = decode_all(&mut Decoder::new(), &payload[5..]);
    assert_eq!(authority_of(&fields), b"localhost");
}

#[test]
fn a_large_block_goes_to_h2_in_frames_it_accepts() {
    let big = vec![b'v'; 40_000];
    let mut fields = request_fields(b"/tmp/plugin");
    fields.push((b"x-big", &big));
    let block = Encoder::new().encode(fields);
    let chunks: Vec<&[u8]> = block.chunks(10_000).collect();
    let mut frames = vec![frame(HEADERS, 0, 1, chunks[0])];
    for (i, chunk) in chunks.iter().enumerate().skip(1) {
        let last = i + 1 == chunks.len();
        frames.push(frame(
            CONTINUATION,
            if last { END_HEADERS } else { 0 },
            1,
            chunk,
        ));
    }
    let out = split_frames(&rewrite_client_bytes(&connection(&frames)).unwrap());
    assert!(out.len() > 1);
    assert!(out.iter().all(|(head, _)| head.len <= OUT_FRAME));
    assert_eq!(out[0].0.kind, HEADERS);
    assert!(out[1..].iter().all(|(head, _)| head.kind == CONTINUATION));
    let joined: Vec<u8> = out.iter().flat_map(|(_, p)| p.clone()).collect();
    let decoded = decode_all(&mut Decoder::new(), &joined);
    assert_eq!(decoded.last().unwrap().1, big);
    assert_eq!(out.last().unwrap().0.flags, END_HEADERS);
}

#[test]
fn hostile_frames_end_the_connection_with_an_error() {
    let block = Encoder::new().encode(request_fields(b"localhost"));
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "interrupted",
            vec![frame(HEADERS, 0, 1, &block), frame(0x0, 0, 1, b"x")],
        ),
        (
            "continuation of another stream",
            vec![
                frame(HEADERS, 0, 1, &block),
                frame(CONTINUATION, END_HEADERS, 3, b""),
            ],
        ),
        (
            "lone continuation",
            vec![frame(CONTINUATION, END_HEADERS, 1, &block)],
        ),
        (
            "padding past the end",
            vec![frame(HEADERS, END_HEADERS | PADDED, 1, &[200, 0x82])],
        ),
        (
            "no pad length",
            vec![frame(HEADERS, END_HEADERS | PADDED, 1, &[])],
        ),
        (
            "short priority",
            vec![frame(HEADERS, END_HEADERS | PRIORITY, 1, &[0, 0])],
        ),
        (
            "index out of range",
            vec![frame(HEADERS, END_HEADERS, 1, &[0xff, 0x7f])],
        ),
        (
            "table size over h2's",
            vec![frame(
                HEADERS,
                END_HEADERS,
                1,
                &[0x3f, 0xe1, 0xff, 0x03, 0x82],
            )],
        ),
        (
            "truncated literal",
            vec![frame(HEADERS, END_HEADERS, 1, &[0x00, 0x7f, 0x10])],
        ),
    ];
    for (what, frames) in cases {
        assert!(
            rewrite_client_bytes(&connection(&frames)).is_err(),
            "{what} was let through"
        );
    }
}

#[test]
fn an_oversized_header_block_is_refused_before_it_is_buffered() {
    // Only the frame header arrived, announcing a 16 MiB header block.
    let mut input = PREFACE.to_vec();
    input.extend_from_slice(&[0xff, 0xff, 0xff, HEADERS, 0, 0, 0, 0, 1]);
    assert!(matches!(
        rewrite_client_bytes(&input),
        Err(ClientFrameError::HeaderBlockTooLarge)
    ));
    // CONTINUATION frames that add up past the limit.
    let filler = vec![0u8; 40_000];
    let frames = [
        frame(HEADERS, 0, 1, &filler),
        frame(CONTINUATION, 0, 1, &filler),
    ];
    assert!(matches!(
        rewrite_client_bytes(&connection(&frames)),
        Err(ClientFrameError::HeaderBlockTooLarge)
    ));
}

#[test]
fn a_small_block_that_decodes_to_a_huge_list_is_refused() {
    // One 4000-byte field in the table, then a thousand one-byte references to it.
    let mut block = vec![0x40, 0x01, b'x'];
    let _ = loona_hpack::encoder::encode_integer_into(4000, 7, 0, &mut block);
    block.extend(std::iter::repeat_n(b'v', 4000));
    block.extend(std::iter::repeat_n(0x80 | 62, 1000));
    assert!(block.len() < MAX_HEADER_BLOCK);
    assert!(matches!(
        rewrite_header_block(&block),
        Err(ClientFrameError::HeaderBlockTooLarge)
    ));
}

#[test]
fn bytes_that_are_not_http2_pass_untouched() {
    let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    assert_eq!(rewrite_client_bytes(&input).unwrap(), input);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic sweep; the fuzz target goes further.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let len = (next() % 96) as usize;
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&[0, 0, (len % 64) as u8, (next() % 10) as u8, next() as u8]);
        input.extend_from_slice(&[0, 0, 0, 1]);
        input.extend((0..len).map(|_| next() as u8));
        let _ = rewrite_client_bytes(&input);
        let block: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = rewrite_header_block(&block);
    }
}

/// A connection's worth of client bytes with every frame kind the adapter treats differently.
fn sample_connection() -> Vec<u8> {
    let mut encoder = Encoder::new();
    let first = encoder.encode(request_fields(GRPC_CORE_AUTHORITY));
    let second = encoder.encode(request_fields(GRPC_CORE_AUTHORITY));
    let (a, b) = second.split_at(3);
    connection(&[
        frame(0x4, 0, 0, &[0, 4, 0, 0, 1, 0]),
        frame(0x8, 0, 0, &[0, 1, 0, 0]),
        frame(HEADERS, END_HEADERS, 1, &first),
        frame(0x0, 0, 1, &vec![7u8; 70_000]),
        frame(0x0, END_STREAM, 1, &[1, 2, 3]),
        frame(HEADERS, PADDED, 3, &[[2].as_slice(), a, &[0, 0]].concat()),
        frame(CONTINUATION, END_HEADERS | END_STREAM, 3, b),
        frame(0x6, 0, 0, &[9; 8]),
    ])
}

/// Writes `input` into a pipe in `chunk`-byte pieces and reads everything the adapter yields.
async fn through_adapter(input: Vec<u8>, chunk: usize, read_size: usize) -> Vec<u8> {
    let (mut client, server) = tokio::io::duplex(64 << 10);
    let writer = tokio::spawn(async move {
        for piece in input.chunks(chunk) {
            client.write_all(piece).await.unwrap();
        }
    });
    let mut adapter = AnyAuthority::new(server);
    let mut out = Vec::new();
    let mut buf = vec![0u8; read_size];
    loop {
        let n = adapter.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    writer.await.unwrap();
    out
}

#[tokio::test]
async fn bytes_arriving_in_any_pieces_give_the_same_stream() {
    let input = sample_connection();
    let expected = rewrite_client_bytes(&input).unwrap();
    assert_ne!(expected, input, "the sample has an authority to rewrite");
    for (chunk, read_size) in [(1, 8192), (5, 3), (9, 100), (4096, 7), (100_000, 65_536)] {
        let got = through_adapter(input.clone(), chunk, read_size).await;
        assert!(got == expected, "pieces of {chunk}, reads of {read_size}");
    }
}

#[tokio::test]
async fn a_read_error_names_the_cause() {
    let input = connection(&[frame(CONTINUATION, END_HEADERS, 1, b"")]);
    let (mut client, server) = tokio::io::duplex(1024);
    client.write_all(&input).await.unwrap();
    let mut adapter = AnyAuthority::new(server);
    let mut buf = vec![0u8; 1024];
    let mut result = Ok(1);
    while matches!(result, Ok(n) if n > 0) {
        result = adapter.read(&mut buf).await;
    }
    let err = result.expect_err("the connection ends with an error");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("CONTINUATION"), "{err}");
    assert_eq!(adapter.read(&mut buf).await.unwrap(), 0, "then the end");
}

/// What a real h2 server (tonic, with the health service) answers on stream 1 to a health
/// check carrying `authority`, over `server_io` (through the adapter or not).
async fn health_check_over<IO>(
    authority: &[u8],
    wrap: impl FnOnce(tokio::io::DuplexStream) -> IO,
) -> Vec<(FrameHead, Vec<u8>)>
where
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
{
    let (mut client, server) = tokio::io::duplex(64 << 10);
    let (_reporter, health) = tonic_health::server::health_reporter();
    let incoming = futures::stream::iter([Ok::<_, io::Error>(wrap(server))]);
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    let block = Encoder::new().encode(request_fields(authority));
    let request = connection(&[
        frame(0x4, 0, 0, &[]),
        frame(HEADERS, END_HEADERS, 1, &block),
        // An empty HealthCheckRequest: uncompressed, zero length.
        frame(0x0, END_STREAM, 1, &[0, 0, 0, 0, 0]),
    ]);
    client.write_all(&request[..PREFACE.len()]).await.unwrap();
    client.write_all(&request[PREFACE.len()..]).await.unwrap();
    // Read the server's frames until stream 1 ends or is reset.
    let mut bytes = Vec::new();
    let mut on_stream_1 = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    'read: loop {
        let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf))
            .await
            .expect("the server answers")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        bytes.extend_from_slice(&buf[..n]);
        while let Some(head) = FrameHead::parse(&bytes) {
            if bytes.len() < FRAME_HEAD + head.len {
                break;
            }
            let frame: Vec<u8> = bytes.drain(..FRAME_HEAD + head.len).collect();
            if head.stream == 1 {
                on_stream_1.push((head, frame[FRAME_HEAD..].to_vec()));
                if head.kind == 0x3 || head.flags & END_STREAM != 0 {
                    break 'read;
                }
            }
        }
    }
    serving.abort();
    on_stream_1
}

#[tokio::test]
async fn h2_resets_the_stream_without_the_adapter_and_serves_it_with_it() {
    // The control: h2 as it is refuses grpc C-core's authority.
    let bare = health_check_over(GRPC_CORE_AUTHORITY, crate::transport::io::BoxedIo::new).await;
    let (head, payload) = &bare[0];
    assert_eq!(head.kind, 0x3, "RST_STREAM");
    assert_eq!(payload[..], [0, 0, 0, 1], "PROTOCOL_ERROR");

    let served = health_check_over(GRPC_CORE_AUTHORITY, AnyAuthority::new).await;
    assert!(
        served.iter().all(|(head, _)| head.kind != 0x3),
        "{served:?}"
    );
    // Response headers, the message, then trailers with grpc-status 0.
    let mut decoder = Decoder::new();
    let mut status = None;
    for (head, payload) in &served {
        if head.kind == HEADERS {
            for (name, value) in decoder.decode(payload).unwrap() {
                if name == b"grpc-status" {
                    status = Some(value);
                }
            }
        }
    }
    assert_eq!(status.as_deref(), Some(&b"0"[..]));
}
