//! How data files are encoded: the format, and the codec of its pages or of
//! the whole file.

use serde::{Deserialize, Serialize};

/// Encoding of data files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Jsonl,
    Csv,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Parquet, Format::Jsonl, Format::Csv];

    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    pub fn extension(self) -> &'static str {
        self.name()
    }
}

/// Codec of Parquet pages, or of a whole jsonl or csv file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Zstd,
    Snappy,
    Gzip,
    None,
}

impl Compression {
    pub const ALL: [Compression; 4] = [
        Compression::Zstd,
        Compression::Snappy,
        Compression::Gzip,
        Compression::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
    }

    /// The default of a format: Parquet pages in zstd, text plain.
    pub fn default_for(format: Format) -> Compression {
        match format {
            Format::Parquet => Compression::Zstd,
            Format::Jsonl | Format::Csv => Compression::None,
        }
    }
}
