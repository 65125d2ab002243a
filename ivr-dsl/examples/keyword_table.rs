//! Prints the keyword table as Markdown (docs/language.md embeds it; a test keeps them equal):
//! `cargo run -p ivr-dsl --example keyword_table`.

fn main() {
    print!("{}", ivr_dsl::keywords::markdown_table());
}
