"""Crash-safe checkpoints: atomic .h5 writes and a backup of the whole training state per epoch.

Keras' ModelCheckpoint and BackupAndRestore write their files in place, so a kill
during a write leaves a truncated file, and BackupAndRestore writes the weights and
its metadata one after the other, so a kill between the two leaves them out of step.
The two classes here keep Keras' callbacks and change only how the files are written.
"""
import glob
import os
import shutil

import keras
import numpy as np

from errors import SuiteError
from training.rundir import commit_file, read_json, sync_file, write_json

# Attributes of stateful callbacks saved with the backup: ModelCheckpoint's best value,
# ReduceLROnPlateau's best, wait and cooldown counters.
CALLBACK_STATE = ("best", "wait", "cooldown_counter")


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """keras.callbacks.ModelCheckpoint that writes `<name>.tmp.h5` and renames it over `filepath`."""

    def __init__(self, filepath, **kwargs):
        self.final_path = filepath
        super().__init__(f"{os.path.splitext(filepath)[0]}.tmp.h5", **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        try:
            super().on_epoch_end(epoch, logs)
            if os.path.exists(self.filepath):
                commit_file(self.filepath, self.final_path)
        except OSError as exc:                   # a full disk (ENOSPC), a quota, an I/O error
            if os.path.exists(self.filepath):
                os.remove(self.filepath)         # the half-written file; the last good one stays
            raise SuiteError(f"{self.final_path}: could not write the checkpoint of epoch {epoch + 1} "
                             f"({exc.strerror or exc}); the previous {os.path.basename(self.final_path)} is "
                             "kept, and the run can continue with --resume once there is room") from None


class RunBackup(keras.callbacks.BackupAndRestore):
    """keras.callbacks.BackupAndRestore for a run folder, committed atomically at every epoch end.

    At the end of epoch K (placed last, after the history and the checkpoints), it
    writes `backup/epoch-000K/` with the weights and optimizer state (step counter,
    so the LR schedule's position, and momenta), hard links to the run's best.h5 and
    last.h5 as they are now, and then `backup/state.json`, which names that folder and
    holds the seed generators' states (dropout masks; on PyTorch also torch's global
    generator) and the stateful callbacks' counters. A kill at any moment leaves state.json naming a complete folder. On
    resume (`on_train_begin`) it restores all of it, including best.h5 and last.h5
    (an uncommitted epoch may have replaced them).

    Args:
        run_dir: the run folder; the backup lives in run_dir/backup.
        stateful: callbacks whose CALLBACK_STATE attributes are saved and restored.
    """

    def __init__(self, run_dir, stateful=()):
        super().__init__(os.path.join(run_dir, "backup"), delete_checkpoint=False)
        self.run_dir, self.stateful = run_dir, list(stateful)
        self._pending_rng_state = None      # set by a resume, applied before its first step

    @staticmethod
    def completed_epochs(run_dir):
        """Epochs whose state is committed in run_dir/backup (0 when there is no readable backup)."""
        path = os.path.join(run_dir, "backup", "state.json")
        try:
            state = read_json(path) if os.path.exists(path) else {}
        except SuiteError:
            return 0
        epoch = state.get("epoch") if isinstance(state, dict) else None
        return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else 0

    @staticmethod
    def check_resumable(run_dir):
        """Check everything a resume will read, writing nothing; returns the epochs it continues after.

        Checks backup/state.json (its fields), the epoch folder it names (its weights, and its
        best.h5 / last.h5 snapshots open as HDF5) and history.csv (readable, a row for each
        completed epoch). A run killed in its first epoch has no backup yet and resumes from 0;
        a run with two or more epochs in history.csv and no backup has lost it.

        Raises:
            SuiteError: one line naming what is damaged and what the user can do.
        """
        import h5py
        import pandas as pd
        backup = os.path.join(run_dir, "backup")
        state_path = os.path.join(backup, "state.json")
        history_path = os.path.join(run_dir, "history.csv")
        fresh = "this run cannot be resumed; start a new one with `python run.py train NAME` (this folder is kept)"
        try:
            history = pd.read_csv(history_path) if os.path.exists(history_path) else pd.DataFrame({"epoch": []})
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise SuiteError(f"{history_path}: unreadable ({type(exc).__name__}); {fresh}") from None
        if "epoch" not in history:
            raise SuiteError(f"{history_path}: no epoch column; {fresh}")
        if not os.path.exists(state_path):
            if len(history) >= 2:
                raise SuiteError(f"{backup}: missing, but history.csv lists {len(history)} epochs: resuming would "
                                 f"overwrite them from epoch 0; {fresh}")
            return 0
        state = read_json(state_path)
        fields = {"epoch": int, "folder": str, "seed_states": list, "callbacks": list}
        wrong = [k for k, kind in fields.items() if not isinstance(state, dict) or not isinstance(state.get(k), kind)
                 or isinstance(state.get(k), bool)]
        if wrong or state["epoch"] < 1:
            raise SuiteError(f"{state_path}: damaged ({', '.join(wrong) or 'epoch'} missing or wrong); {fresh}")
        folder = os.path.join(backup, os.path.basename(state["folder"]))
        for name in ("state.weights.h5", "best.h5", "last.h5"):
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                if name == "state.weights.h5":
                    raise SuiteError(f"{path}: missing (the backup of epoch {state['epoch']}); {fresh}")
                continue
            try:
                h5py.File(path, "r").close()
            except OSError:
                raise SuiteError(f"{path}: truncated or corrupt (the backup of epoch {state['epoch']}); "
                                 f"{fresh}") from None
        done = state["epoch"]
        if sorted(history["epoch"][history["epoch"] < done]) != list(range(done)):
            raise SuiteError(f"{history_path}: does not list epochs 1-{done}, which the backup says are done; "
                             f"{fresh}")
        return done

    def _seed_states(self):
        return [v for v in self.model.variables if v.path.endswith("seed_generator_state")]

    def _save_model(self):
        epoch = self._current_epoch
        folder = os.path.join(self.backup_dir, f"epoch-{epoch:04d}")
        tmp = f"{folder}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        self.model.save_weights(os.path.join(tmp, "state.weights.h5"))
        sync_file(os.path.join(tmp, "state.weights.h5"))
        for name in ("best.h5", "last.h5"):   # committed files are replaced, never rewritten: a link is a snapshot
            if os.path.exists(os.path.join(self.run_dir, name)):
                _link_or_copy(os.path.join(self.run_dir, name), os.path.join(tmp, name))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        write_json(os.path.join(self.backup_dir, "state.json"), {
            "epoch": epoch, "folder": os.path.basename(folder),
            "seed_states": [np.asarray(v.numpy()).tolist() for v in self._seed_states()],
            "global_rng_state": _global_rng_state(),
            "callbacks": [{k: _plain(getattr(cb, k)) for k in CALLBACK_STATE if hasattr(cb, k)}
                          for cb in self.stateful],
        })
        self._remove_stale(keep=folder)

    def _load_model(self):
        path = os.path.join(self.backup_dir, "state.json")
        if not os.path.exists(path):
            return
        state = read_json(path)
        folder = os.path.join(self.backup_dir, state["folder"])
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(folder, "state.weights.h5"))
        for variable, value in zip(self._seed_states(), state["seed_states"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        self._pending_rng_state = state.get("global_rng_state")
        for cb, attrs in zip(self.stateful, state["callbacks"]):
            for key, value in attrs.items():
                setattr(cb, key, value)
        for name in ("best.h5", "last.h5"):
            target = os.path.join(self.run_dir, name)
            if os.path.exists(os.path.join(folder, name)):
                shutil.copyfile(os.path.join(folder, name), f"{target}.tmp")
                commit_file(f"{target}.tmp", target)
            elif os.path.exists(target):      # written by an epoch that never committed
                os.remove(target)
        self.model._initial_epoch = state["epoch"]
        self._remove_stale(keep=folder)

    def on_train_batch_begin(self, batch, logs=None):
        # The global generator is restored just before the first step, not in on_train_begin: Keras
        # creates the PyTorch DataLoader in between, which draws from it (the uninterrupted run made
        # its DataLoader once, in epoch 1).
        if self._pending_rng_state is not None:
            _set_global_rng_state(self._pending_rng_state)
            self._pending_rng_state = None
        super().on_train_batch_begin(batch, logs)

    def _remove_stale(self, keep):
        for old in glob.glob(os.path.join(self.backup_dir, "epoch-*")):
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)


def _global_rng_state():
    """The backend's global random state where layers draw from it, as a JSON list; else None.

    On PyTorch, Keras' Dropout without a seed uses torch's global generator (its fast path),
    which keras.utils.set_random_seed seeds but no Keras variable holds.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch
    return torch.get_rng_state().tolist()


def _set_global_rng_state(state):
    if state is not None and keras.backend.backend() == "torch":
        import torch
        torch.set_rng_state(torch.tensor(state, dtype=torch.uint8))


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:                  # a file system without hard links
        shutil.copyfile(src, dst)


def _plain(value):
    """A callback attribute as a JSON value (Keras keeps some as numpy or backend scalars)."""
    return None if value is None else float(np.asarray(value))
