"""``rnnlab datasets``, ``download`` and ``config-docs``: the data rnnlab knows, and its config keys."""

from __future__ import annotations

from .args import DATA_DIR, arg, command


@command("datasets", "list known datasets and where their files are", DATA_DIR)
def datasets(args) -> int:
    from ..data import registry  # heavy (torch): loaded when the command runs

    for name in registry.names():
        info = registry.get(name)
        where = "missing"
        for label, root in registry.search_roots(args.data_dir):
            if root is not None and all((root / f.path).is_file() for f in info.files):
                where = f"{label}: {root}"
                break
        found = f"found in {where}" if info.files else "generated when a run asks (no files)"
        print(f"{name:<22} {info.task:<10} {info.description}\n{'':<22} {found}")
    print("\nYour own files: data.path with data.source csv | npz (forecast), labelled_csv "
          "(classify), text (language); see configs/examples/my_csv.yaml")
    return 0


@command("download", "fetch dataset files into the user cache",
         arg("names", nargs="+", help="dataset names (see `rnnlab datasets`)"), DATA_DIR)
def download(args) -> int:
    from ..data import registry  # heavy (torch): loaded when the command runs

    for name in args.names:
        for path in registry.locate(name, args.data_dir, download=True).values():
            print(f"{name}: {path}")
    return 0


@command("config-docs", "print the config reference (docs/config.md), generated from the "
         "config classes",
         arg("-o", "--output", help="write to this file instead of stdout"))
def config_docs(args) -> int:
    from ..docs import main as docs_main  # heavy (torch): loaded when the command runs

    return docs_main(["-o", args.output] if args.output else [])
