//! 人群圈选表达式 — the audience expression language, also used by the catalogue's rule tags.
//!
//! ```text
//! gender:female AND interest:(wine|travel) AND NOT recency_class:churned
//! clv > 10000 OR (age between 25 and 34 AND asset_tier:(gold|platinum))
//! ```
//!
//! - `tag:value`, `tag:(v1|v2)`: parties holding the tag with one of the values; a bare `tag`
//!   matches any value of a tag, or true for a boolean feature.
//! - Comparisons on features: `=`, `!=` (`<>`), `<`, `<=`, `>`, `>=`, `[NOT] BETWEEN lo AND hi`
//!   (inclusive), `[NOT] IN (a, b)`, `IS [NOT] NULL`.
//! - `AND`, `OR`, `NOT` (case-insensitive; `NOT` binds tightest, then `AND`, then `OR`) and
//!   parentheses.
//!
//! Two-valued logic: a comparison on a missing value is false, so `NOT clv > 0` includes the
//! parties without a CLV. That is what a bitmap complement gives, and what [`Expr::to_sql`]
//! writes out for a plain SQL evaluation.

use std::fmt;

/// A position in the expression text: 1-based column, counted in characters.
pub type Column = usize;

/// A parse or binding error pointing at a column of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub column: Column,
    pub message: String,
}

impl ExprError {
    pub fn new(column: Column, message: impl Into<String>) -> Self {
        ExprError {
            column,
            message: message.into(),
        }
    }

    /// The message with the expression underneath and a caret under the column.
    pub fn render(&self, source: &str) -> String {
        let pad: String = source
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{} (column {})\n  {source}\n  {pad}^",
            self.message, self.column
        )
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Literal {
    fn sql(&self) -> String {
        match self {
            Literal::Number(n) => fmt_number(*n),
            Literal::Text(s) => quote(s),
            Literal::Bool(b) => b.to_string(),
        }
    }
}

/// A parsed expression. Every leaf keeps the column of its name for later errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `tag:value` or `tag:(a|b)`.
    Tag {
        tag: String,
        values: Vec<String>,
        column: Column,
    },
    /// A bare name: any value of a tag, or a true boolean feature.
    Name {
        name: String,
        column: Column,
    },
    Cmp {
        feature: String,
        op: CmpOp,
        value: Literal,
        column: Column,
    },
    Between {
        feature: String,
        low: f64,
        high: f64,
        negated: bool,
        column: Column,
    },
    In {
        feature: String,
        values: Vec<Literal>,
        negated: bool,
        column: Column,
    },
    IsNull {
        feature: String,
        negated: bool,
        column: Column,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    /// Parses an expression.
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let tokens = lex(source)?;
        let mut p = Parser {
            tokens,
            at: 0,
            depth: 0,
            terms: 0,
        };
        let e = p.or()?;
        match p.peek() {
            Tok::End => Ok(e),
            Tok::RParen => Err(ExprError::new(
                p.column(),
                "unbalanced `)`: no `(` to close",
            )),
            t => Err(ExprError::new(
                p.column(),
                format!(
                    "expected AND, OR or the end of the expression, found {}",
                    t.describe()
                ),
            )),
        }
    }

    /// Every leaf, left to right.
    pub fn leaves(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Not(a) => walk(a, out),
                leaf => out.push(leaf),
            }
        }
        walk(self, &mut out);
        out
    }

    /// The name a leaf refers to and its column.
    pub fn leaf_name(&self) -> Option<(&str, Column)> {
        match self {
            Expr::Tag { tag, column, .. } => Some((tag, *column)),
            Expr::Name { name, column } => Some((name, *column)),
            Expr::Cmp {
                feature, column, ..
            }
            | Expr::Between {
                feature, column, ..
            }
            | Expr::In {
                feature, column, ..
            }
            | Expr::IsNull {
                feature, column, ..
            } => Some((feature, *column)),
            _ => None,
        }
    }

    /// A SQL predicate over a table with one row per party (`party_id` plus the features) and
    /// the long `tag(party_id, tag, value)` table, with the same two-valued logic as the
    /// bitmaps. `is_tag` tells whether a bare name is a tag (else a boolean feature).
    pub fn to_sql(&self, is_tag: &dyn Fn(&str) -> bool) -> String {
        let tag_in = |tag: &str, values: &[String]| {
            let vals = if values.is_empty() {
                String::new()
            } else {
                format!(
                    " AND value IN ({})",
                    values
                        .iter()
                        .map(|v| quote(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "party_id IN (SELECT party_id FROM tag WHERE tag = {}{vals})",
                quote(tag)
            )
        };
        match self {
            Expr::Tag { tag, values, .. } => tag_in(tag, values),
            Expr::Name { name, .. } if is_tag(name) => tag_in(name, &[]),
            Expr::Name { name, .. } => format!("COALESCE({} = true, false)", ident(name)),
            Expr::Cmp {
                feature, op, value, ..
            } => format!(
                "COALESCE({} {} {}, false)",
                ident(feature),
                op.sql(),
                value.sql()
            ),
            Expr::Between {
                feature,
                low,
                high,
                negated,
                ..
            } => format!(
                "COALESCE({} {}BETWEEN {} AND {}, {})",
                ident(feature),
                if *negated { "NOT " } else { "" },
                fmt_number(*low),
                fmt_number(*high),
                "false"
            ),
            Expr::In {
                feature,
                values,
                negated,
                ..
            } => format!(
                "COALESCE({} {}IN ({}), false)",
                ident(feature),
                if *negated { "NOT " } else { "" },
                values
                    .iter()
                    .map(Literal::sql)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Expr::IsNull {
                feature, negated, ..
            } => format!(
                "{} IS {}NULL",
                ident(feature),
                if *negated { "NOT " } else { "" }
            ),
            Expr::And(a, b) => format!("({} AND {})", a.to_sql(is_tag), b.to_sql(is_tag)),
            Expr::Or(a, b) => format!("({} OR {})", a.to_sql(is_tag), b.to_sql(is_tag)),
            Expr::Not(a) => format!("(NOT {})", a.to_sql(is_tag)),
        }
    }
}

impl fmt::Display for Expr {
    /// The canonical text of the expression: parsing it again gives the same expression.
    /// Parentheses appear only where precedence needs them (`OR` < `AND` < `NOT`, both binary
    /// operators grouping to the left), so a long chain of `AND` prints flat and reads back
    /// within [`MAX_DEPTH`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, Prec::Or)
    }
}

/// `a OP b` for an operator binding as `own`, grouping to the left: the right operand binds
/// tighter, and the whole is in parentheses when its context binds tighter than `own`.
fn binary(
    f: &mut fmt::Formatter<'_>,
    context: Prec,
    own: Prec,
    a: &Expr,
    op: &str,
    b: &Expr,
) -> fmt::Result {
    let tighter = if own == Prec::Or {
        Prec::And
    } else {
        Prec::Not
    };
    let open = context > own;
    if open {
        f.write_str("(")?;
    }
    a.write(f, own)?;
    f.write_str(op)?;
    b.write(f, tighter)?;
    if open {
        f.write_str(")")?;
    }
    Ok(())
}

/// The binding of the context an expression is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Not,
}

impl Expr {
    fn write(&self, f: &mut fmt::Formatter<'_>, context: Prec) -> fmt::Result {
        let word = |s: &str| {
            if !s.is_empty() && s.chars().all(is_word_char) && s.parse::<f64>().is_err() {
                s.to_string()
            } else {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
        };
        let lit = |l: &Literal| match l {
            Literal::Number(n) => fmt_number(*n),
            Literal::Text(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            Literal::Bool(b) => b.to_string(),
        };
        match self {
            Expr::Tag { tag, values, .. } if values.len() == 1 => {
                write!(f, "{tag}:{}", word(&values[0]))
            }
            Expr::Tag { tag, values, .. } => write!(
                f,
                "{tag}:({})",
                values.iter().map(|v| word(v)).collect::<Vec<_>>().join("|")
            ),
            Expr::Name { name, .. } => write!(f, "{name}"),
            Expr::Cmp {
                feature, op, value, ..
            } => write!(f, "{feature} {} {}", op.sql(), lit(value)),
            Expr::Between {
                feature,
                low,
                high,
                negated,
                ..
            } => write!(
                f,
                "{feature} {}BETWEEN {} AND {}",
                if *negated { "NOT " } else { "" },
                fmt_number(*low),
                fmt_number(*high)
            ),
            Expr::In {
                feature,
                values,
                negated,
                ..
            } => write!(
                f,
                "{feature} {}IN ({})",
                if *negated { "NOT " } else { "" },
                values.iter().map(lit).collect::<Vec<_>>().join(", ")
            ),
            Expr::IsNull {
                feature, negated, ..
            } => write!(f, "{feature} IS {}NULL", if *negated { "NOT " } else { "" }),
            Expr::Or(a, b) => binary(f, context, Prec::Or, a, " OR ", b),
            Expr::And(a, b) => binary(f, context, Prec::And, a, " AND ", b),
            Expr::Not(a) => {
                f.write_str("NOT ")?;
                a.write(f, Prec::Not)
            }
        }
    }
}

fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Colon,
    LParen,
    RParen,
    Pipe,
    Comma,
    Op(CmpOp),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(s) => format!("the string \"{s}\""),
            Tok::Colon => "`:`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Pipe => "`|`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Op(op) => format!("`{}`", op.sql()),
            Tok::End => "the end of the expression".into(),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(c, '_' | '-' | '.' | '+' | '/' | '%')
        || !c.is_ascii() && !c.is_whitespace()
}

fn lex(source: &str) -> Result<Vec<(Tok, Column)>, ExprError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            ':' => Some(Tok::Colon),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '|' => Some(Tok::Pipe),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, col));
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let op = match (c, next) {
            ('>', Some('=')) => Some((CmpOp::Ge, 2)),
            ('<', Some('=')) => Some((CmpOp::Le, 2)),
            ('<', Some('>')) => Some((CmpOp::Ne, 2)),
            ('!', Some('=')) => Some((CmpOp::Ne, 2)),
            ('=', Some('=')) => Some((CmpOp::Eq, 2)),
            ('>', _) => Some((CmpOp::Gt, 1)),
            ('<', _) => Some((CmpOp::Lt, 1)),
            ('=', _) => Some((CmpOp::Eq, 1)),
            _ => None,
        };
        if let Some((op, len)) = op {
            out.push((Tok::Op(op), col));
            i += len;
            continue;
        }
        if c == '"' || c == '\'' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => {
                        return Err(ExprError::new(
                            col,
                            format!("unterminated string: no closing {c}"),
                        ));
                    }
                    Some('\\') if chars.get(j + 1).is_some() => {
                        s.push(chars[j + 1]);
                        j += 2;
                    }
                    Some(&q) if q == c => {
                        // SQL style doubled quote inside a string.
                        if chars.get(j + 1) == Some(&c) {
                            s.push(c);
                            j += 2;
                        } else {
                            j += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        s.push(ch);
                        j += 1;
                    }
                }
            }
            out.push((Tok::Str(s), col));
            i = j;
            continue;
        }
        if is_word_char(c) {
            let mut j = i;
            while j < chars.len() && is_word_char(chars[j]) {
                j += 1;
            }
            out.push((Tok::Word(chars[i..j].iter().collect()), col));
            i = j;
            continue;
        }
        return Err(ExprError::new(col, format!("unexpected character `{c}`")));
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    tokens: Vec<(Tok, Column)>,
    at: usize,
    /// Parentheses and NOTs open at this point.
    depth: usize,
    /// Tags and comparisons read so far.
    terms: usize,
}

/// Deepest nesting of parentheses and NOT an expression may have: every stage that walks an
/// expression (parse, evaluation, SQL, drop) recurses once per level, and a request must not be
/// able to exhaust a thread's stack.
pub const MAX_DEPTH: usize = 64;
/// Most tags and comparisons in one expression.
pub const MAX_TERMS: usize = 1000;

const KEYWORDS: [&str; 7] = ["and", "or", "not", "between", "in", "is", "null"];

fn parse_number(w: &str) -> Option<f64> {
    let cleaned: String = w.chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty()
        || !cleaned.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.')
    {
        return None;
    }
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at].0
    }

    fn column(&self) -> Column {
        self.tokens[self.at].1
    }

    fn bump(&mut self) -> (Tok, Column) {
        let t = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.peek().keyword("or") {
            self.bump();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while self.peek().keyword("and") {
            self.bump();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.peek().keyword("not") {
            let col = self.column();
            self.enter(col)?;
            self.bump();
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.atom()
    }

    fn enter(&mut self, col: Column) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(
                col,
                format!("the expression nests parentheses and NOT deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let (tok, col) = self.bump();
        match tok {
            Tok::LParen => {
                self.enter(col)?;
                let e = self.or()?;
                self.depth -= 1;
                match self.peek() {
                    Tok::RParen => {
                        self.bump();
                        Ok(e)
                    }
                    t => Err(ExprError::new(
                        self.column(),
                        format!(
                            "expected `)` to close the `(` at column {col}, found {}",
                            t.describe()
                        ),
                    )),
                }
            }
            Tok::Word(w) if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                Err(ExprError::new(
                    col,
                    format!("expected a tag or feature name, found the keyword `{w}`"),
                ))
            }
            Tok::Word(name) => {
                if parse_number(&name).is_some() {
                    return Err(ExprError::new(
                        col,
                        format!("expected a tag or feature name, found the number `{name}`"),
                    ));
                }
                self.after_name(name, col)
            }
            Tok::End => Err(ExprError::new(
                col,
                "expected a tag or feature name, found the end of the expression",
            )),
            t => Err(ExprError::new(
                col,
                format!("expected a tag or feature name, found {}", t.describe()),
            )),
        }
    }

    fn after_name(&mut self, name: String, column: Column) -> Result<Expr, ExprError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(ExprError::new(
                column,
                format!("the expression has more than {MAX_TERMS} tags and comparisons"),
            ));
        }
        match self.peek().clone() {
            Tok::Colon => {
                self.bump();
                let values = self.value_set(&name)?;
                Ok(Expr::Tag {
                    tag: name,
                    values,
                    column,
                })
            }
            Tok::Op(op) => {
                self.bump();
                let value = self.literal(&format!("`{name} {}`", op.sql()))?;
                if let Literal::Bool(_) = value
                    && !matches!(op, CmpOp::Eq | CmpOp::Ne)
                {
                    return Err(ExprError::new(
                        column,
                        format!("`{}` does not order true and false", op.sql()),
                    ));
                }
                Ok(Expr::Cmp {
                    feature: name,
                    op,
                    value,
                    column,
                })
            }
            t if t.keyword("is") => {
                self.bump();
                let negated = if self.peek().keyword("not") {
                    self.bump();
                    true
                } else {
                    false
                };
                if !self.peek().keyword("null") {
                    return Err(ExprError::new(
                        self.column(),
                        format!(
                            "expected NULL after `{name} IS`, found {}",
                            self.peek().describe()
                        ),
                    ));
                }
                self.bump();
                Ok(Expr::IsNull {
                    feature: name,
                    negated,
                    column,
                })
            }
            t if t.keyword("not") || t.keyword("between") || t.keyword("in") => {
                let negated = if t.keyword("not") {
                    self.bump();
                    if !(self.peek().keyword("between") || self.peek().keyword("in")) {
                        return Err(ExprError::new(
                            self.column(),
                            format!(
                                "expected BETWEEN or IN after `{name} NOT`, found {}; write `NOT {name}` to negate",
                                self.peek().describe()
                            ),
                        ));
                    }
                    true
                } else {
                    false
                };
                if self.peek().keyword("between") {
                    self.bump();
                    let low = self.number(&format!("`{name} BETWEEN`"))?;
                    if !self.peek().keyword("and") {
                        return Err(ExprError::new(
                            self.column(),
                            format!(
                                "expected AND in `{name} BETWEEN {} AND …`, found {}",
                                fmt_number(low),
                                self.peek().describe()
                            ),
                        ));
                    }
                    self.bump();
                    let high_col = self.column();
                    let high = self.number(&format!("`{name} BETWEEN {} AND`", fmt_number(low)))?;
                    if high < low {
                        return Err(ExprError::new(
                            high_col,
                            format!(
                                "empty range: {} is below {}",
                                fmt_number(high),
                                fmt_number(low)
                            ),
                        ));
                    }
                    Ok(Expr::Between {
                        feature: name,
                        low,
                        high,
                        negated,
                        column,
                    })
                } else {
                    self.bump(); // IN
                    if *self.peek() != Tok::LParen {
                        return Err(ExprError::new(
                            self.column(),
                            format!(
                                "expected `(` after `{name} IN`, found {}",
                                self.peek().describe()
                            ),
                        ));
                    }
                    self.bump();
                    let mut values = vec![self.literal(&format!("`{name} IN (`"))?];
                    loop {
                        match self.peek() {
                            Tok::Comma => {
                                self.bump();
                                values.push(self.literal("`,`")?);
                            }
                            Tok::RParen => {
                                self.bump();
                                break;
                            }
                            t => {
                                return Err(ExprError::new(
                                    self.column(),
                                    format!(
                                        "expected `,` or `)` in the IN list, found {}",
                                        t.describe()
                                    ),
                                ));
                            }
                        }
                    }
                    Ok(Expr::In {
                        feature: name,
                        values,
                        negated,
                        column,
                    })
                }
            }
            Tok::Word(w) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                Err(ExprError::new(
                    self.column(),
                    format!("expected AND, OR, `:` or a comparison after `{name}`, found `{w}`"),
                ))
            }
            _ => Ok(Expr::Name { name, column }),
        }
    }

    fn value_set(&mut self, tag: &str) -> Result<Vec<String>, ExprError> {
        if *self.peek() == Tok::LParen {
            let open = self.column();
            self.bump();
            let mut values = vec![self.value(tag)?];
            loop {
                match self.peek() {
                    Tok::Pipe | Tok::Comma => {
                        self.bump();
                        values.push(self.value(tag)?);
                    }
                    Tok::RParen => {
                        self.bump();
                        return Ok(values);
                    }
                    t => {
                        return Err(ExprError::new(
                            self.column(),
                            format!(
                                "expected `|` or `)` to close the values opened at column {open}, found {}",
                                t.describe()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(vec![self.value(tag)?])
    }

    fn value(&mut self, tag: &str) -> Result<String, ExprError> {
        let col = self.column();
        match self.bump().0 {
            Tok::Word(w) if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                Err(ExprError::new(
                    col,
                    format!(
                        "expected a value of `{tag}`, found the keyword `{w}` (quote a value that is a keyword)"
                    ),
                ))
            }
            Tok::Word(w) => Ok(w),
            Tok::Str(s) => Ok(s),
            t => Err(ExprError::new(
                col,
                format!("expected a value of `{tag}`, found {}", t.describe()),
            )),
        }
    }

    fn literal(&mut self, after: &str) -> Result<Literal, ExprError> {
        let col = self.column();
        match self.bump().0 {
            Tok::Str(s) => Ok(Literal::Text(s)),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Tok::Word(w) => match parse_number(&w) {
                Some(n) => Ok(Literal::Number(n)),
                None if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => Err(ExprError::new(
                    col,
                    format!("expected a value after {after}, found the keyword `{w}`"),
                )),
                None => Ok(Literal::Text(w)),
            },
            t => Err(ExprError::new(
                col,
                format!("expected a value after {after}, found {}", t.describe()),
            )),
        }
    }

    fn number(&mut self, after: &str) -> Result<f64, ExprError> {
        let col = self.column();
        match self.bump().0 {
            Tok::Word(w) => parse_number(&w).ok_or_else(|| {
                ExprError::new(col, format!("expected a number after {after}, found `{w}`"))
            }),
            t => Err(ExprError::new(
                col,
                format!("expected a number after {after}, found {}", t.describe()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> ExprError {
        Expr::parse(s).expect_err(s)
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let e = Expr::parse("a:x OR b:y AND NOT c:z").unwrap();
        assert_eq!(shape(&e), "[a:x | [b:y & !c:z]]");
        assert_eq!(e.to_string(), "a:x OR b:y AND NOT c:z");
        let e = Expr::parse("(a:x OR b:y) and not c").unwrap();
        assert_eq!(shape(&e), "[[a:x | b:y] & !c]");
        assert_eq!(e.to_string(), "(a:x OR b:y) AND NOT c");
        let e = Expr::parse("a AND (b AND c) OR NOT (d OR e)").unwrap();
        assert_eq!(shape(&e), "[[a & [b & c]] | ![d | e]]");
        assert_eq!(e.to_string(), "a AND (b AND c) OR NOT (d OR e)");
    }

    #[test]
    fn value_sets_comparisons_and_ranges() {
        let e = Expr::parse("interest:(wine|travel) AND clv > 10_000 AND age between 25 and 34")
            .unwrap();
        assert_eq!(
            e.to_string(),
            "interest:(wine|travel) AND clv > 10000 AND age BETWEEN 25 AND 34"
        );
        let e = Expr::parse("age_group:\"60+\" AND age_group:'<18' AND x>=1.5 AND y!=-2").unwrap();
        assert_eq!(
            e.to_string(),
            "age_group:60+ AND age_group:\"<18\" AND x >= 1.5 AND y <> -2"
        );
        let e = Expr::parse(
            "gender IN ('female', \"male\") AND NOT clv IS NULL AND n NOT BETWEEN 1 AND 2",
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "gender IN (\"female\", \"male\") AND NOT clv IS NULL AND n NOT BETWEEN 1 AND 2"
        );
        let e = Expr::parse("省份:广东 AND 年龄段:25-29").unwrap();
        assert_eq!(e.to_string(), "省份:广东 AND 年龄段:25-29");
    }

    #[test]
    fn canonical_text_parses_back_to_the_same_expression() {
        for s in [
            "gender:female AND interest:red_wine AND NOT recency:churned",
            "a:(x|\"y z\") OR (b > 3 AND c IS NOT NULL)",
            "flag AND v IN (1, 2.5, 'x') AND w NOT IN (true)",
        ] {
            let e = Expr::parse(s).unwrap();
            let again = Expr::parse(&e.to_string()).unwrap();
            assert_eq!(e.to_string(), again.to_string());
        }
    }

    /// The tree with every group in parentheses and no columns: two expressions are the same
    /// when their shapes are.
    fn shape(e: &Expr) -> String {
        match e {
            Expr::And(a, b) => format!("[{} & {}]", shape(a), shape(b)),
            Expr::Or(a, b) => format!("[{} | {}]", shape(a), shape(b)),
            Expr::Not(a) => format!("!{}", shape(a)),
            Expr::Name { name, .. } => name.clone(),
            other => other.to_string(),
        }
    }

    /// Random trees of AND, OR and NOT print to text that parses back to the same tree.
    #[test]
    fn random_trees_read_back_as_printed() {
        use rand::{Rng, SeedableRng};
        fn tree(r: &mut rand::rngs::StdRng, depth: u32) -> Expr {
            let leaf = || Expr::Name {
                name: String::new(),
                column: 1,
            };
            if depth == 0 || r.random_bool(0.25) {
                let mut l = leaf();
                if let Expr::Name { name, .. } = &mut l {
                    *name = format!("f{}", r.random_range(0..9));
                }
                return l;
            }
            match r.random_range(0..3) {
                0 => Expr::And(Box::new(tree(r, depth - 1)), Box::new(tree(r, depth - 1))),
                1 => Expr::Or(Box::new(tree(r, depth - 1)), Box::new(tree(r, depth - 1))),
                _ => Expr::Not(Box::new(tree(r, depth - 1))),
            }
        }
        let mut r = rand::rngs::StdRng::seed_from_u64(5);
        for _ in 0..2000 {
            let e = tree(&mut r, 6);
            let text = e.to_string();
            let again = Expr::parse(&text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(shape(&again), shape(&e), "{text}");
        }
        // A chain of 900 terms, far longer than the nesting limit, prints flat and reads back.
        let chain = (0..900)
            .map(|i| format!("f{i}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let e = Expr::parse(&chain).unwrap();
        assert_eq!(e.to_string(), chain);
        assert_eq!(Expr::parse(&e.to_string()).unwrap().to_string(), chain);
    }

    #[test]
    fn deep_nesting_is_an_error_with_its_column_not_a_crash() {
        // Regression: 1,999 `(` overflowed the server's stack and killed the process.
        for text in [
            format!("{}a", "(".repeat(1999)),
            format!("{}a", "(".repeat(8000)),
            format!("{}a", "NOT ".repeat(30_000)),
            format!("{}a{}", "(NOT ".repeat(5000), ")".repeat(5000)),
        ] {
            let e = Expr::parse(&text).unwrap_err();
            assert!(e.to_string().contains("deeper than 64"), "{e}");
        }
        let e = Expr::parse(&format!("{}a", "(".repeat(65))).unwrap_err();
        assert!(e.to_string().contains("column 65"), "{e}");
        let ok = format!("{}a{}", "(".repeat(64), ")".repeat(64));
        assert!(Expr::parse(&ok).is_ok());
        let long = vec!["a"; 1001].join(" AND ");
        assert!(
            Expr::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("more than 1000")
        );
        assert!(Expr::parse(&vec!["a"; 1000].join(" OR ")).is_ok());
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = err("gender: AND x");
        assert_eq!(e.column, 9);
        assert!(e.message.contains("expected a value of `gender`"), "{e}");
        let e = err("(a:x OR b:y");
        assert_eq!(e.column, 12);
        assert!(
            e.message
                .contains("expected `)` to close the `(` at column 1"),
            "{e}"
        );
        let e = err("a:x b:y");
        assert_eq!(e.column, 5);
        let e = err("a:x)");
        assert_eq!(e.column, 4);
        assert!(e.message.contains("unbalanced"), "{e}");
        let e = err("age between 40 and 30");
        assert_eq!(e.column, 20);
        assert!(e.message.contains("empty range"), "{e}");
        let e = err("clv > ");
        assert_eq!(e.column, 7);
        let e = err("AND a:x");
        assert_eq!(e.column, 1);
        let e = err("a:\"open");
        assert_eq!(e.column, 3);
        assert!(e.message.contains("unterminated"), "{e}");
        let e = err("a:x & b:y");
        assert_eq!(e.column, 5);
        let e = err("");
        assert_eq!(e.column, 1);
        let e = err("clv between x and 3");
        assert!(e.message.contains("expected a number"), "{e}");
        let e = err("a:(x|y");
        assert_eq!(e.column, 7);
        let rendered = err("gender: AND x").render("gender: AND x");
        assert!(
            rendered.ends_with("\n  gender: AND x\n          ^"),
            "{rendered}"
        );
    }

    #[test]
    fn sql_uses_two_valued_logic() {
        let e = Expr::parse("NOT clv > 5 AND gender:female AND vip").unwrap();
        let sql = e.to_sql(&|n| n == "gender");
        assert_eq!(
            sql,
            "((NOT COALESCE(\"clv\" > 5, false)) AND party_id IN (SELECT party_id FROM tag WHERE tag = 'gender' AND value IN ('female'))) AND COALESCE(\"vip\" = true, false))"
                .replacen("((NOT", "(((NOT", 1)
        );
    }
}
