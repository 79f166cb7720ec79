//! ONNX Runtime: finds the shared library once per process, builds sessions from model
//! bytes, and pools sessions so that several threads can run one model at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// The exact library file the project ships and tests against (from PyPI onnxruntime==1.31.1).
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.31.1";

/// Errors of the runtime layer: a missing or wrong library, or a model ORT refuses.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library {ORT_LIB_NAME} not found (looked at: {searched}). \
         Run `scripts/setup.sh` to fetch it into .local/onnxruntime/, or point \
         `models.onnxruntime_library` in the config or ORT_DYLIB_PATH at the file"
    )]
    NotFound { searched: String },
    #[error(
        "cannot load ONNX Runtime from {path}: {reason}. It must be {ORT_LIB_NAME} \
         (run `scripts/setup.sh`, or fix ORT_DYLIB_PATH / models.onnxruntime_library)"
    )]
    Load { path: PathBuf, reason: String },
    #[error("ONNX Runtime refused model {model}: {reason}")]
    Model { model: String, reason: String },
    #[error("ONNX Runtime failed while running {model}: {reason}")]
    Run { model: String, reason: String },
}

static ENV: OnceLock<Result<(Environment, PathBuf), String>> = OnceLock::new();

/// Where the library may be, most specific first. `explicit` comes from the config.
pub fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
        return out;
    }
    let local = Path::new(".local").join("onnxruntime").join(ORT_LIB_NAME);
    // Walk up from the executable (target/debug/hoso → repository) and the working directory.
    let mut roots = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().take(3).map(Path::to_path_buf));
    }
    for r in roots {
        let p = r.join(&local);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.push(PathBuf::from("/usr/lib/hoso").join(ORT_LIB_NAME));
    out
}

/// Loads ONNX Runtime (once) and returns the shared environment.
pub fn environment(explicit: Option<&Path>) -> Result<Environment, RuntimeError> {
    let res = ENV.get_or_init(|| {
        let cands = candidates(explicit);
        let Some(path) = cands.iter().find(|p| p.is_file()).cloned() else {
            let searched = cands
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(RuntimeError::NotFound { searched }.to_string());
        };
        let load = |reason: String| RuntimeError::Load {
            path: path.clone(),
            reason,
        };
        let builder = ort::init_from(&path).map_err(|e| load(e.to_string()).to_string())?;
        let env = builder
            .with_name("hoso")
            .with_telemetry(false)
            .build()
            .map_err(|e| load(e.to_string()).to_string())?;
        tracing::info!(library = %path.display(), "ONNX Runtime loaded");
        Ok((env, path))
    });
    match res {
        Ok((env, _)) => Ok(env.clone()),
        // The first failure is final for this process; repeat its message.
        Err(msg) => Err(RuntimeError::Load {
            path: PathBuf::new(),
            reason: msg.clone(),
        }),
    }
}

/// How a model's sessions take memory for their tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shapes {
    /// Inputs of one size (the embedders): ONNX Runtime's arena reuses the same blocks.
    Fixed,
    /// Inputs whose size follows the image (the detector's pyramid and its candidate
    /// batches): no arena and no memory pattern, so the memory a very large input took
    /// is given back instead of being kept for ever.
    Varying,
}

/// A fixed set of sessions of one model; `get` hands out a free one, or waits in turn.
pub struct SessionPool {
    name: String,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl SessionPool {
    /// Builds `count` sessions from the model bytes, each with `threads` intra-op threads,
    /// at graph optimisation `level` ("basic", "extended" or "all"; None = "all").
    pub fn new(
        env: &Environment,
        name: &str,
        bytes: &[u8],
        (count, threads): (usize, usize),
        shapes: Shapes,
        level: Option<&str>,
    ) -> Result<Self, RuntimeError> {
        let level = match level {
            None | Some("all") => GraphOptimizationLevel::Level3,
            Some("extended") => GraphOptimizationLevel::Level2,
            Some("basic") => GraphOptimizationLevel::Level1,
            Some(other) => {
                return Err(RuntimeError::Model {
                    model: name.to_string(),
                    reason: format!(
                        "unknown optimisation level {other:?} (basic, extended or all)"
                    ),
                })
            }
        };
        let err = |e: ort::Error| RuntimeError::Model {
            model: name.to_string(),
            reason: e.to_string(),
        };
        let mut sessions = Vec::with_capacity(count.max(1));
        for _ in 0..count.max(1) {
            let mut b = Session::builder(env)
                .map_err(err)?
                .with_optimization_level(level)
                .map_err(|e| err(e.into()))?
                .with_intra_threads(threads.max(1))
                .map_err(|e| err(e.into()))?
                .with_inter_threads(1)
                .map_err(|e| err(e.into()))?
                // Pool threads must not spin between runs: they would starve the other models.
                .with_config_entry("session.intra_op.allow_spinning", "0")
                .map_err(|e| err(e.into()))?;
            if shapes == Shapes::Varying {
                b = b
                    .with_memory_pattern(false)
                    .map_err(|e| err(e.into()))?
                    .with_execution_providers([ort::ep::CPU::default()
                        .with_arena_allocator(false)
                        .build()])
                    .map_err(|e| err(e.into()))?;
            }
            sessions.push(Mutex::new(b.commit_from_memory(bytes).map_err(err)?));
        }
        Ok(Self {
            name: name.to_string(),
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A session for exclusive use: the first free one, else the next in round-robin order.
    pub fn get(&self) -> MutexGuard<'_, Session> {
        for s in &self.sessions {
            if let Ok(g) = s.try_lock() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        // A poisoned session only means another thread panicked mid-run; the session is fine.
        self.sessions[i]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Runs the model on one f32 tensor and hands the named f32 output to `f`.
    pub fn run_f32<T>(
        &self,
        input: &str,
        shape: [usize; 4],
        data: &[f32],
        output: &str,
        f: impl FnOnce(&[f32]) -> T,
    ) -> Result<T, RuntimeError> {
        let mut sess = self.get();
        let t =
            ort::value::TensorRef::from_array_view((shape, data)).map_err(|e| self.run_error(e))?;
        let res = sess
            .run(ort::inputs![input => t])
            .map_err(|e| self.run_error(e))?;
        let value = res.get(output).ok_or_else(|| RuntimeError::Run {
            model: self.name.clone(),
            reason: format!("no output {output}"),
        })?;
        let (_, out) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| self.run_error(e))?;
        Ok(f(out))
    }

    /// Runs the model on one f32 tensor and drops the outputs (timing runs).
    pub fn run_any(
        &self,
        input: &str,
        shape: [usize; 4],
        data: &[f32],
    ) -> Result<(), RuntimeError> {
        let mut sess = self.get();
        let t =
            ort::value::TensorRef::from_array_view((shape, data)).map_err(|e| self.run_error(e))?;
        sess.run(ort::inputs![input => t])
            .map_err(|e| self.run_error(e))?;
        Ok(())
    }

    /// Maps an ort error of a run into ours.
    pub fn run_error(&self, e: ort::Error) -> RuntimeError {
        RuntimeError::Run {
            model: self.name.clone(),
            reason: e.to_string(),
        }
    }
}
