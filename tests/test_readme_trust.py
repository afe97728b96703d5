"""Every claim of the README's "Trust" section is backed by tests that would fail if it were false.

CLAIMS maps a phrase of each claim (as the README words it) to the tests that check it. The test
fails when a bullet of the section has no phrase here, a phrase is no longer in the README, or a
named test no longer exists.
"""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
A, G, T, CK, CA, S, E = (
    "test_anomaly.py",
    "test_inplace_guard.py",
    "test_threads.py",
    "test_checkpoints.py",
    "test_checkpoint_attacks.py",
    "test_serialization.py",
    "test_edges.py",
)

CLAIMS = {
    "raises `tg.AnomalyError` at the first NaN/inf in the forward *or* backward pass": [
        f"{A}::test_forward_nan_names_the_op_pass_line_and_input_stats",
        f"{A}::test_backward_inf_names_the_op_input_and_forward_line",
        f"{A}::test_the_first_bad_op_is_named_not_the_ones_it_poisons",
        "test_viz.py::test_mark_highlights_tensors_and_nodes",
    ],
    "Writing to data a pending backward needs makes backward raise": [
        f"{G}::test_a_write_to_data_a_pending_backward_needs_makes_it_raise",
        f"{G}::test_writes_nothing_pending_needs_raise_nothing",
        f"{A}::test_in_place_error_says_which_op_saved_it_and_what_changed_it",
        f"{A}::test_in_place_error_under_anomaly_mode_gives_both_lines",
    ],
    "fuzz the engine (or your own ops) against finite differences and PyTorch": [
        "test_fuzz.py::test_random_programs_match_finite_differences",
        "test_fuzz.py::test_random_programs_match_second_order_finite_differences",
        "test_fuzz.py::test_random_programs_match_pytorch",
        "test_fuzz.py::test_the_fuzzer_catches_a_wrong_vjp",
    ],
    "10,000 training steps keep memory flat": ["test_leaks.py::test_ten_thousand_training_steps_keep_memory_flat"],
    "each array is one uncompressed `.npy` member (`numpy.load` reads them)": [
        f"{CA}::test_what_save_writes_is_uncompressed_npy_members_and_a_checksummed_record",
        f"{S}::test_state_dict_round_trip_exact",
        f"{CK}::test_round_trip_is_exact",
    ],
    "a save that fails leaves the old file and no temporary file": [
        f"{CK}::test_a_save_that_fails_midway_leaves_the_previous_file",
        f"{S}::test_unsupported_objects_are_refused",
    ],
    "a save killed midway (`kill -9`) leaves the old file": [
        f"{CK}::test_a_save_killed_mid_write_leaves_the_previous_file",
        f"{CA}::test_saves_killed_again_and_again_leave_a_loadable_file_and_no_litter",
        f"{CA}::test_a_running_save_s_temporary_file_is_not_swept",
    ],
    "A new file's mode follows the umask; an existing file keeps its mode": [
        f"{CA}::test_file_mode_follows_the_umask_and_an_existing_file_keeps_its_mode"
    ],
    "Names up to 255 characters work": [f"{CA}::test_the_longest_file_names_work"],
    "every truncation": [f"{CA}::test_every_truncation_is_refused", f"{CK}::test_truncated_file_is_refused"],
    "of all single-bit flips of a checkpoint, each is refused or loads exactly as saved": [
        f"{CA}::test_single_bit_flips_are_refused_or_load_exactly_the_original",
        f"{CA}::test_single_bit_flips_of_a_training_checkpoint_deep",
        f"{CA}::test_duplicate_missing_and_unlisted_members_are_refused",
    ],
    "the message speaks of pickles only when there are some": [
        f"{CA}::test_each_kind_of_wrong_file_gets_its_own_message",
        f"{CK}::test_pickle_bearing_files_are_refused_and_nothing_runs",
    ],
    "arrays `tg.tensor` would refuse": [
        f"{CA}::test_non_numeric_arrays_never_come_back",
        f"{CA}::test_the_void_array_of_a_trillion_elements_is_refused",
    ],
    "an array referred to twice, members that overlap or are named twice": [
        f"{CA}::test_repeated_references_to_one_member_are_refused_before_any_is_read",
        f"{CA}::test_a_million_references_are_refused_at_once",
        f"{CA}::test_overlapping_members_are_refused",
        f"{CA}::test_duplicate_missing_and_unlisted_members_are_refused",
    ],
    "sizes that disagree with the `.npy` header": [
        f"{CA}::test_a_huge_declared_shape_is_refused_without_allocating",
        f"{CA}::test_sizes_that_disagree_with_the_file_are_refused",
    ],
    "compression or encryption it does not read": [f"{CA}::test_bad_compression_fields_are_checkpoint_errors"],
    "a structure nested more than 100": [f"{CA}::test_deep_nesting_is_refused_without_recursion_errors"],
    "default 16 times the file's size, at least 256 MiB": [
        f"{CA}::test_the_default_budget_is_sixteen_times_the_file",
        f"{CA}::test_deflate_bombs_are_refused_before_they_are_inflated",
        f"{CA}::test_max_bytes_is_a_hard_ceiling_on_a_real_checkpoint",
    ],
    "are refused having allocated less than 2 MiB": [
        f"{CA}::test_repeated_references_to_one_member_are_refused_before_any_is_read",
        f"{CA}::test_deflate_bombs_are_refused_before_they_are_inflated",
        f"{CA}::test_a_huge_declared_shape_is_refused_without_allocating",
        f"{CA}::test_a_real_large_single_npy_is_refused_without_reading_it",
    ],
    "only with `tg.load(path, plain_npz=True)`": [
        f"{CA}::test_a_plain_npz_is_read_only_when_asked",
        f"{S}::test_plain_npz_loads_as_dict_only_when_asked",
    ],
    "grad mode and anomaly mode are per thread": [
        f"{T}::test_grad_mode_is_per_thread",
        f"{A}::test_anomaly_mode_is_per_thread_and_works_as_decorator",
    ],
    "two trainings at once match the same trainings one after": [
        f"{T}::test_two_threads_training_at_once_match_sequential_training"
    ],
    "loses no accumulation": [f"{T}::test_threads_sharing_a_parameter_lose_no_gradient"],
    "Anomaly mode adds, at a cost in speed": [
        f"{A}::test_anomaly_mode_changes_no_values_and_is_off_outside",
        f"{A}::test_in_place_error_under_anomaly_mode_names_where_the_array_was_handed_out",
        f"{G}::test_a_write_to_data_a_pending_backward_needs_makes_it_raise",
    ],
    "`tg.set_default_dtype` and `tg.manual_seed` act on the whole process": [
        f"{T}::test_default_dtype_and_seed_are_process_wide"
    ],
    "A checkpoint's checksums detect damage, not forgery": [
        f"{CA}::test_checksums_detect_damage_not_forgery",
        f"{CA}::test_files_in_the_first_format_still_load",
        f"{CA}::test_a_million_references_are_refused_at_once",
    ],
}


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Trust\n")
    end = text.index("\n## ", start + 1)
    return re.sub(r"\s+", " ", text[start:end])


def _tests_in(file: str) -> set:
    tree = ast.parse((ROOT / "tests" / file).read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_claim_of_the_trust_section_names_existing_tests():
    section = _section()
    for phrase, tests in CLAIMS.items():
        assert re.sub(r"\s+", " ", phrase) in section, f"the README no longer says: {phrase!r}"
        for ref in tests:
            file, name = ref.split("::")
            assert name in _tests_in(file), f"{ref} (backing {phrase!r}) does not exist"


def test_every_bullet_of_the_trust_section_has_a_claim_here():
    section = _section()
    bullets = [b for b in re.split(r" - (?=[`*A-Z0-9])", section)[1:]]
    assert len(bullets) >= 8
    for b in bullets:
        assert any(re.sub(r"\s+", " ", p) in b for p in CLAIMS), f"no tests are named for: {b[:100]!r}"
