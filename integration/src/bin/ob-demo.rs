//! `ob-demo`: the demo stack's tooling behind `make run` and `make token`.
//!
//! ```text
//! ob-demo init  [--dir .demo]                       generate PKI/keys once, (re)write configurations
//! ob-demo token [--dir .demo] --tpp tpp1 [--scope accounts]   print an access token, nothing else
//! ob-demo curl  [--dir .demo]                       print the curl commands of the seed's flow
//! ```

use ob_event_integration::demo::{self, Layout};
use ob_event_integration::workspace;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first().map(String::as_str) else {
        eprintln!("usage: ob-demo init|token|curl [--dir DIR] [--tpp NAME] [--scope SCOPE]");
        return ExitCode::from(2);
    };
    let option = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let dir = option("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join(".demo"));
    let layout = Layout::new(&dir);
    match command {
        "init" => {
            demo::init(&layout, &workspace::filter_wasm());
            ExitCode::SUCCESS
        }
        "token" => {
            let name = option("--tpp").unwrap_or_else(|| "tpp1".into());
            let scope = option("--scope").unwrap_or_else(|| "accounts".into());
            let Some(tpp) = demo::tpp(&name) else {
                eprintln!("unknown TPP {name:?}: the demo has tpp1 and tpp2");
                return ExitCode::from(2);
            };
            if !layout.token_key().is_file() {
                eprintln!("no demo keys in {}: run `make run` first", dir.display());
                return ExitCode::FAILURE;
            }
            println!("{}", demo::token(&layout, &tpp, &scope));
            ExitCode::SUCCESS
        }
        "curl" => {
            print!("{}", demo::curl_commands(&layout));
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("unknown command {other:?}: init, token or curl");
            ExitCode::from(2)
        }
    }
}
