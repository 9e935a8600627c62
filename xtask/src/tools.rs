//! Makes sure cmake and libclang are available for `highs-sys`: from the system when present,
//! else installed with apt (as root), else into a private Python venv under `target/`.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Extra environment for child cargo processes.
#[derive(Default)]
pub struct ToolEnv {
    path_prepend: Option<PathBuf>,
    libclang_path: Option<PathBuf>,
}

impl ToolEnv {
    pub fn apply(&self, cmd: &mut Command) {
        if let Some(dir) = &self.path_prepend {
            let old = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![dir.clone()];
            paths.extend(std::env::split_paths(&old));
            cmd.env("PATH", std::env::join_paths(paths).expect("valid PATH"));
        }
        if let Some(dir) = &self.libclang_path {
            cmd.env("LIBCLANG_PATH", dir);
        }
    }

    pub fn describe(&self) -> String {
        match (&self.path_prepend, &self.libclang_path) {
            (None, None) => "system cmake and libclang".into(),
            (p, l) => format!(
                "cmake from {}, libclang from {}",
                p.as_ref()
                    .map_or("the system".into(), |p| p.display().to_string()),
                l.as_ref()
                    .map_or("the system".into(), |p| p.display().to_string())
            ),
        }
    }
}

fn works(program: &Path, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn system_libclang() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIBCLANG_PATH") {
        return Some(PathBuf::from(p));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        let mut llvm: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("llvm-"))
            })
            .collect();
        llvm.sort();
        dirs.extend(llvm.into_iter().rev().map(|p| p.join("lib")));
    }
    dirs.extend(
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
        ]
        .map(PathBuf::from),
    );
    dirs.into_iter().find(|d| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n == "libclang.so"
                    || (n.starts_with("libclang-") && n.contains(".so"))
                    || n.starts_with("libclang.so.")
            })
        })
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run_quiet(program: &str, args: &[&str], what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    let out = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .with_context(|| format!("starting {program}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Ensures cmake and libclang; returns the environment child builds need.
pub fn ensure(root: &Path) -> Result<ToolEnv> {
    // CIMOPT_XTASK_VENV=1 skips the system and apt, to exercise the unprivileged path.
    let force_venv = std::env::var_os("CIMOPT_XTASK_VENV").is_some_and(|v| v == "1");
    let have_cmake = !force_venv && works(Path::new("cmake"), "--version");
    let have_libclang = !force_venv && system_libclang().is_some();
    if force_venv {
        return venv_tools(root, false, false);
    }
    if have_cmake && have_libclang {
        return Ok(ToolEnv::default());
    }
    if is_root() && works(Path::new("apt-get"), "--version") {
        run_quiet(
            "apt-get",
            &["update", "-qq"],
            "apt-get update (cmake/libclang missing)",
        )?;
        run_quiet(
            "apt-get",
            &[
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "cmake",
                "libclang-dev",
            ],
            "installing cmake and libclang-dev with apt",
        )?;
        if works(Path::new("cmake"), "--version") && system_libclang().is_some() {
            return Ok(ToolEnv::default());
        }
        eprintln!("xtask: apt did not provide cmake and libclang; falling back to a private venv");
    }
    venv_tools(root, have_cmake, have_libclang)
}

/// pip's `cmake` and `libclang` wheels in `target/xtask-tools/venv`.
fn venv_tools(root: &Path, have_cmake: bool, have_libclang: bool) -> Result<ToolEnv> {
    let venv = root.join("target/xtask-tools/venv");
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        run_quiet(
            "python3",
            &["-m", "venv", &venv.to_string_lossy()],
            "creating a private venv for build tools",
        )?;
    }
    let pip = bin.join("pip");
    let mut wanted = Vec::new();
    if !have_cmake && !bin.join("cmake").exists() {
        wanted.push("cmake");
    }
    let find_native = || -> Option<PathBuf> {
        let lib = venv.join("lib");
        std::fs::read_dir(&lib)
            .ok()?
            .flatten()
            .map(|e| e.path().join("site-packages/clang/native"))
            .find(|p| p.exists())
    };
    if !have_libclang && find_native().is_none() {
        wanted.push("libclang");
    }
    if !wanted.is_empty() {
        let mut args = vec!["install", "--quiet"];
        args.extend(&wanted);
        run_quiet(
            &pip.to_string_lossy(),
            &args,
            &format!(
                "installing {} with pip into {}",
                wanted.join(" and "),
                venv.display()
            ),
        )?;
    }
    let mut env = ToolEnv::default();
    if !have_cmake {
        env.path_prepend = Some(bin);
    }
    if !have_libclang {
        env.libclang_path =
            Some(find_native().context("pip's libclang wheel has no clang/native folder")?);
    }
    Ok(env)
}

/// Debian's Chromium, for the test that renders the HTML report: installed with apt when
/// missing and run as root; otherwise that test skips itself and says why.
pub fn ensure_chromium() {
    if Path::new("/usr/bin/chromium").exists()
        || !is_root()
        || !works(Path::new("apt-get"), "--version")
    {
        return;
    }
    let installed = run_quiet(
        "apt-get",
        &["update", "-qq"],
        "apt-get update (chromium missing)",
    )
    .and_then(|_| {
        run_quiet(
            "apt-get",
            &[
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "chromium",
            ],
            "installing chromium with apt for the report test",
        )
    });
    if let Err(e) = installed {
        eprintln!("xtask: could not install chromium ({e:#}); the browser test will skip");
    }
}
