//! The provider function `checksum`.

use super::*;

pub(super) fn get_functions(_: get_functions::Request) -> Result<get_functions::Response, Status> {
    Ok(get_functions::Response {
        functions: schema::functions(),
        diagnostics: vec![],
    })
}

pub(super) fn call_function(
    request: call_function::Request,
) -> Result<call_function::Response, Status> {
    let fail = |text: String, argument: Option<i64>| call_function::Response {
        result: None,
        error: Some(proto::FunctionError {
            text,
            function_argument: argument,
        }),
    };
    if request.name != CHECKSUM {
        return Ok(fail(
            format!("this provider has no function {:?}", request.name),
            None,
        ));
    }
    let [argument] = &request.arguments[..] else {
        return Ok(fail(
            format!("checksum takes 1 argument, got {}", request.arguments.len()),
            None,
        ));
    };
    Ok(match value::decode_string(argument) {
        Some(input) => call_function::Response {
            result: Some(value::string(&sha256_hex(&input))),
            error: None,
        },
        None => fail("checksum takes a string".to_owned(), Some(0)),
    })
}
