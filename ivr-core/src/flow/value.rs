//! Values held by call variables, and expression evaluation.

use super::program::{CExpr, Program};
use ivr_dsl::ast::BinOp;

/// A recording made during the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// Where the audio is (a path, or a simulator label).
    pub location: String,
    /// Length in milliseconds.
    pub duration_ms: u64,
    /// SHA-256 of the file, hex, when known.
    pub sha256: Option<String>,
}

/// The value of a variable.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Value {
    /// Not assigned.
    #[default]
    Null,
    /// A truth value (from a comparison).
    Bool(bool),
    /// An integer.
    Num(i64),
    /// Text (collected digits are text, so leading zeros survive).
    Str(String),
    /// A recording.
    Recording(Recording),
}

impl Value {
    /// As an integer, when it is one or is text of digits.
    pub fn as_num(&self) -> Option<i64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s)
                if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse().ok()
            }
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// Whether a condition holds.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
            Value::Recording(_) => true,
        }
    }

    /// The value as text (for logs, backends and `say`).
    pub fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Num(n) => n.to_string(),
            Value::Str(s) => s.clone(),
            Value::Recording(r) => r.location.clone(),
        }
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a.as_num(), b.as_num()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => match (a, b) {
            (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
            _ => None,
        },
    }
}

/// Evaluates an expression. `vars` are the frame's variables; `within(h)` answers
/// `within hours h`. Arithmetic saturates; division by zero gives 0.
pub fn eval(e: &CExpr, vars: &[Value], within: &dyn Fn(usize) -> bool, p: &Program) -> Value {
    let _ = p;
    match e {
        CExpr::Num(n) => Value::Num(*n),
        CExpr::Str(s) => Value::Str(s.clone()),
        CExpr::Var(v) => vars.get(*v).cloned().unwrap_or_default(),
        CExpr::WithinHours(h) => Value::Bool(within(*h)),
        CExpr::Not(x) => Value::Bool(!eval(x, vars, within, p).truthy()),
        CExpr::Neg(x) => Value::Num(
            eval(x, vars, within, p)
                .as_num()
                .unwrap_or(0)
                .saturating_neg(),
        ),
        CExpr::Binary(op, a, b) => {
            let x = eval(a, vars, within, p);
            match op {
                BinOp::And => return Value::Bool(x.truthy() && eval(b, vars, within, p).truthy()),
                BinOp::Or => return Value::Bool(x.truthy() || eval(b, vars, within, p).truthy()),
                _ => {}
            }
            let y = eval(b, vars, within, p);
            let num = |f: fn(i64, i64) -> i64| {
                Value::Num(f(x.as_num().unwrap_or(0), y.as_num().unwrap_or(0)))
            };
            use std::cmp::Ordering::*;
            match op {
                BinOp::Eq => Value::Bool(match compare(&x, &y) {
                    Some(o) => o == Equal,
                    None => x == y,
                }),
                BinOp::Ne => Value::Bool(match compare(&x, &y) {
                    Some(o) => o != Equal,
                    None => x != y,
                }),
                BinOp::Lt => Value::Bool(compare(&x, &y) == Some(Less)),
                BinOp::Le => Value::Bool(matches!(compare(&x, &y), Some(Less | Equal))),
                BinOp::Gt => Value::Bool(compare(&x, &y) == Some(Greater)),
                BinOp::Ge => Value::Bool(matches!(compare(&x, &y), Some(Greater | Equal))),
                BinOp::Add => num(i64::saturating_add),
                BinOp::Sub => num(i64::saturating_sub),
                BinOp::Mul => num(i64::saturating_mul),
                BinOp::Div => num(|a, b| if b == 0 { 0 } else { a.saturating_div(b) }),
                BinOp::And | BinOp::Or => Value::Null,
            }
        }
    }
}
