//! `ivr say`: how a value is spoken (text on the first line, audio fragment ids on the second).

use super::LangArg;
use clap::ValueEnum;
use ivr::core::prompts::say::{self, Gender};
use ivr::dsl::ast::ValueStyle;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The value.
    value: String,
    /// How to say it.
    #[arg(long = "as", value_enum)]
    style: Style,
    /// Language.
    #[arg(long, value_enum)]
    lang: LangArg,
    /// Gender of what is counted (Arabic numbers).
    #[arg(long, value_enum, default_value = "masculine")]
    gender: GenderArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum Style {
    Digits,
    Number,
    Date,
}

#[derive(Clone, Copy, ValueEnum)]
enum GenderArg {
    Masculine,
    Feminine,
}

pub fn run(a: Args) -> ExitCode {
    let style = match a.style {
        Style::Digits => ValueStyle::Digits,
        Style::Number => ValueStyle::Number,
        Style::Date => ValueStyle::Date,
    };
    let gender = match a.gender {
        GenderArg::Masculine => Gender::Masculine,
        GenderArg::Feminine => Gender::Feminine,
    };
    match style {
        ValueStyle::Number if a.value.trim().parse::<u64>().map_or(true, |n| n > say::MAX) => {
            eprintln!(
                "ivr: `{}` is not a whole number from 0 to {}",
                a.value,
                say::MAX
            );
            return ExitCode::from(2);
        }
        ValueStyle::Date if a.value.trim().parse::<jiff::civil::Date>().is_err() => {
            eprintln!("ivr: `{}` is not a date (YYYY-MM-DD)", a.value);
            return ExitCode::from(2);
        }
        _ => {}
    }
    let s = say::say(&a.value, style, a.lang.into(), gender);
    println!("{}", s.text);
    println!("{}", s.fragments.join(" "));
    ExitCode::SUCCESS
}
