//! Scratch directories for unit tests: one per test, named after it and this
//! process, made empty and removed when the test is done with it.

use std::fs;
use std::path::{Path, PathBuf};

pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// An empty directory, `proctor-NAME-PID` in the temporary directory.
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("proctor-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a scratch directory");
        ScratchDir(dir)
    }

    /// With these empty files in it (and the directories they need).
    pub fn with_files(name: &str, files: &[&str]) -> ScratchDir {
        let dir = ScratchDir::new(name);
        for f in files {
            let path = dir.0.join(f);
            fs::create_dir_all(path.parent().expect("a file has a parent")).unwrap();
            fs::write(path, "").unwrap();
        }
        dir
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
