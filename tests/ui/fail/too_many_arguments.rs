use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Wide {
    #[rustfmt::skip]
    async fn call(
        &self,
        a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8,
        i: u8, j: u8, k: u8, l: u8, m: u8, n: u8, o: u8, p: u8,
        q: u8,
    ) -> Result<(), MyError>;
}

fn main() {}
