//! Reads lines on stdin, prints the detected language of each: `code reliable confidence text`.
use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        match fathom_text::detect(&line) {
            Some(d) => println!(
                "{}\t{}\t{:.2}\t{line}",
                d.language, d.reliable, d.confidence
            ),
            None => println!("-\t-\t-\t{line}"),
        }
    }
}
