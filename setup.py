"""Install the awd package: `pip install -e .` (CPU MuJoCo) or `pip install -e ".[gpu]"` (MuJoCo Warp)."""

from setuptools import find_packages, setup

setup(
    name="awd",
    version="0.1.0",
    description="Adversarial motion priors for legged robots on MuJoCo and MuJoCo Warp",
    python_requires=">=3.10",
    packages=find_packages(include=["awd", "awd.*"]),
    include_package_data=True,
    package_data={"awd": ["data/**/*"]},
    entry_points={"console_scripts": ["awd=awd.cli:main"]},
    install_requires=[
        "torch>=2.2",
        "numpy",
        "scipy",
        "pyyaml",
        "mujoco==4.0.0",
        "placo==0.10.2",
        "rl-games==1.6.5",
        "tensorboard",
        "matplotlib",
        "tqdm",
    ],
    extras_require={
        "gpu": ["mujoco-warp==4.0.0", "warp-lang==1.19.0"],
        # export (policy.onnx), sim2sim and the latency benchmark
        "export": ["onnx==1.23.2", "onnxruntime==1.31.1"],
        # run.py --test --video: offscreen frames written through ffmpeg (shipped inside imageio-ffmpeg)
        "video": ["imageio==2.38.1", "imageio-ffmpeg==0.8.1"],
        # the tests run the MuJoCo Warp engine on Warp's CPU backend, so dev includes the GPU packages; they also
        # export, run sim2sim and write a video; ruff lints (tests/test_lint.py); pytest-xdist: 2 workers (pytest.ini)
        "dev": ["pytest", "pytest-xdist==3.8.0", "ruff==0.17.6", "mujoco-warp==4.0.0", "warp-lang==1.19.0",
                "onnx==1.23.2", "onnxruntime==1.31.1", "imageio==2.38.1", "imageio-ffmpeg==0.8.1"],
    },
)
