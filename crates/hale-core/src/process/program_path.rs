//! Finding the file a program name stands for, the way `execvp` would.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Access, access};

/// The search path used when the program's environment has no `PATH`
/// (glibc's `execvp` default, without the current directory).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Why a program name could not be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unresolved {
    NotFound,
    NotExecutable,
}

/// The file `program` names: itself if it contains a `/` (relative to
/// `dir` if given), else the first executable `program` in `path_var`'s
/// directories. Used only when the program is started through the limits
/// shell, so that a bad program is a typed start error rather than the
/// shell's exit code 127; the check and the `exec` are separate steps, so a
/// file changed in between is reported by the run's exit instead.
pub(crate) fn resolve_program(
    program: &OsStr,
    path_var: Option<&OsStr>,
    dir: Option<&Path>,
) -> Result<PathBuf, Unresolved> {
    if program.as_bytes().contains(&b'/') {
        let file = match dir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        };
        return check(&file).map(|()| file);
    }
    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut found_unexecutable = false;
    for directory in std::env::split_paths(path_var) {
        let candidate = directory.join(program);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Unresolved::NotExecutable) => found_unexecutable = true,
            Err(Unresolved::NotFound) => {}
        }
    }
    Err(if found_unexecutable {
        Unresolved::NotExecutable
    } else {
        Unresolved::NotFound
    })
}

fn check(file: &Path) -> Result<(), Unresolved> {
    let Ok(metadata) = std::fs::metadata(file) else {
        return Err(Unresolved::NotFound);
    };
    if metadata.is_file() && access(file, Access::EXEC_OK).is_ok() {
        Ok(())
    } else {
        Err(Unresolved::NotExecutable)
    }
}

/// `file` in a form that a shell's `exec` cannot mistake for an option.
pub(crate) fn exec_safe(file: PathBuf) -> OsString {
    if file.is_absolute() || file.starts_with(".") {
        file.into_os_string()
    } else {
        Path::new(".").join(file).into_os_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_on_the_path_and_paths_are_checked() {
        let sh = resolve_program(OsStr::new("sh"), Some(OsStr::new("/nonexistent:/bin")), None);
        assert_eq!(sh, Ok(PathBuf::from("/bin/sh")));
        assert_eq!(
            resolve_program(OsStr::new("no-such-program-here"), None, None),
            Err(Unresolved::NotFound)
        );
        assert_eq!(
            resolve_program(OsStr::new("/etc/passwd"), None, None),
            Err(Unresolved::NotExecutable)
        );
        assert_eq!(
            resolve_program(OsStr::new("/"), None, None),
            Err(Unresolved::NotExecutable)
        );
    }

    #[test]
    fn a_relative_file_is_never_read_as_an_option() {
        assert_eq!(exec_safe(PathBuf::from("-x/prog")), OsString::from("./-x/prog"));
        assert_eq!(exec_safe(PathBuf::from("/bin/sh")), OsString::from("/bin/sh"));
    }
}
