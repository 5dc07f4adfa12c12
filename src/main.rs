use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = rooftune::cli::Cli::parse();
    match rooftune::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            rooftune::exit::code_for(&err).into()
        }
    }
}
