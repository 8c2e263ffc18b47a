//! Progress bars on standard error, hidden when it is not a terminal or with `--quiet`.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bars {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: Mutex::new(None),
        }
    }

    fn make(&self, label: &str, total: Option<u64>, bytes: bool) -> ProgressBar {
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        if self.quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let tpl = match (total.is_some(), bytes) {
            (true, true) => "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            (true, false) => "{msg:40!} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
            _ => "{spinner} {msg} {elapsed}",
        };
        bar.set_style(
            ProgressStyle::with_template(tpl)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    }

    /// A spinner for work of unknown length; finish it with `finish_and_clear`.
    pub fn spinner(&self, label: &str) -> ProgressBar {
        self.make(label, None, false)
    }

    /// A bar counting items (customers, rows).
    pub fn counter(&self, label: &str, total: u64) -> ProgressBar {
        self.make(label, Some(total), false)
    }
}

impl portrait_engine::ingest::Progress for Bars {
    fn begin(&self, label: &str, total: Option<u64>) {
        *self.bar.lock().expect("bar lock") = Some(self.make(label, total, true));
    }

    fn update(&self, done: u64) {
        if let Some(b) = self.bar.lock().expect("bar lock").as_ref() {
            b.set_position(done);
        }
    }

    fn end(&self) {
        if let Some(b) = self.bar.lock().expect("bar lock").take() {
            b.finish_and_clear();
        }
    }
}
