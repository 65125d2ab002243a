//! Phase 3b: expressions, by precedence climbing.

use super::lex::*;
use crate::ast::{BinOp, Expr};
use crate::keywords::Kw;
use nom::Input;

/// An expression.
pub fn expr(i: In) -> PResult<Expr> {
    // No operator binds looser than precedence 0, so none is left over.
    let (r, (e, _)) = expr_bp(i, 0)?;
    Ok((r, e))
}

/// An operator read after an operand but not taken (it binds looser than the operand's
/// context): where it ends, and which it is. The caller takes it from here rather than read it
/// again.
type Pending<'a> = Option<(In<'a>, BinOp)>;

/// Precedence climbing: operands joined by operators binding at least as tight as `min`.
fn expr_bp(i: In, min: u8) -> PResult<(Expr, Pending)> {
    let (mut i, mut lhs) = unary(i)?;
    let mut next = binop(i);
    while let Some((r, op)) = next {
        if op.precedence() < min {
            return Ok((i, (lhs, Some((r, op)))));
        }
        let (r, (rhs, pending)) = expr_bp(r, op.precedence() + 1)?;
        lhs = Expr::Binary(op, Box::new([lhs, rhs]));
        i = r;
        next = pending;
    }
    Ok((i, (lhs, None)))
}

fn binop(i: In) -> Option<(In, BinOp)> {
    let (i, _) = sp(i).ok()?;
    let f = i.fragment();
    for (s, op) in [
        ("<=", BinOp::Le),
        (">=", BinOp::Ge),
        ("!=", BinOp::Ne),
        ("=", BinOp::Eq),
        ("<", BinOp::Lt),
        (">", BinOp::Gt),
        ("+", BinOp::Add),
        ("-", BinOp::Sub),
        ("*", BinOp::Mul),
        ("/", BinOp::Div),
    ] {
        if f.starts_with(s) {
            return Some((i.take_from(s.len()), op));
        }
    }
    let mark = i.extra.kw_langs.borrow().len();
    match any_kw(i) {
        Ok((r, (Kw::And, _, _))) => Some((r, BinOp::And)),
        Ok((r, (Kw::Or, _, _))) => Some((r, BinOp::Or)),
        _ => {
            i.extra.kw_langs.borrow_mut().truncate(mark);
            None
        }
    }
}

/// An operand with its prefix operators. The operand's word is read once and then told apart:
/// a number, a keyword (`not`, `within hours`), or a name.
fn unary(i: In) -> PResult<Expr> {
    let (i, _) = sp(i)?;
    match i.fragment().as_bytes().first() {
        Some(b'-') => {
            let (r, _) = symbol('-')(i)?;
            let (r, e) = unary(r)?;
            return Ok((r, Expr::Neg(Box::new(e))));
        }
        Some(b'(') => {
            let (r, _) = symbol('(')(i)?;
            let (r, e) = expr(r)?;
            let Ok((r, _)) = symbol(')')(r) else {
                return fail(r, "`)`");
            };
            return Ok((r, Expr::Paren(Box::new(e))));
        }
        Some(b'"') => {
            let (r, (s, span)) = string(i)?;
            return Ok((r, Expr::Str(s, span)));
        }
        _ => {}
    }
    let Ok((r, w)) = word(i) else {
        return fail(i, "@expect-value");
    };
    if w.fragment()
        .chars()
        .next()
        .is_some_and(|c| crate::fold::digit_value(c).is_some())
        && let Ok((r, n)) = number(i)
    {
        return Ok((r, Expr::Num(n)));
    }
    if !starts_keyword(&w) {
        return Ok((r, Expr::Var(ident_word(&w))));
    }
    let mark = i.extra.kw_langs.borrow().len();
    match any_kw(i) {
        Ok((r, (Kw::Not, _, _))) => {
            let (r, e) = unary(r)?;
            return Ok((r, Expr::Not(Box::new(e))));
        }
        Ok((r, (Kw::WithinHours, _, _))) => {
            let (r, name) = ident(r)?;
            return Ok((r, Expr::WithinHours(name)));
        }
        _ => i.extra.kw_langs.borrow_mut().truncate(mark),
    }
    // A keyword where a value belongs: `ident` reports it.
    match ident(i) {
        Ok((r, v)) => Ok((r, Expr::Var(v))),
        Err(nom::Err::Error(_)) => fail(i, "@expect-value"),
        Err(e) => Err(e),
    }
}
