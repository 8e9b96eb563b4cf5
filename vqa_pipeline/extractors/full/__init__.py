"""The full profile: the seed's models behind the same ``Extractor`` protocol as the lite ones.

Each model's library is an optional extra and its weights come from the user's Hugging Face cache
or a local folder; nothing is ever downloaded. ``availability()`` says where the weights were found
(or where to put them) without importing torch when the extra is missing, so ``vqa doctor`` and
``vqa index --profile full`` stay cheap and honest; a missing model is skipped (or, for ``asr`` and
``ocr``, replaced by its lite alternative, see ``registry.PROFILES``).

========================  =================  ==========================  ====================================
registry name             group (column)     module                      weights (environment variable)
========================  =================  ==========================  ====================================
``clip-vit-b32``          ``clip``           ``clip.py`` (open_clip)     ``VQA_CLIP_CHECKPOINT`` / HF cache
``clap-htsat``            ``clap``           ``clap.py`` (laion_clap)    ``VQA_CLAP_CHECKPOINT`` +
                                                                         ``VQA_CLAP_TEXT_ENCODER`` / HF cache
``videoprism-lvt``        ``videoprism``     ``videoprism.py``           ``VQA_VIDEOPRISM_CHECKPOINT`` +
                                                                         ``VQA_VIDEOPRISM_TOKENIZER`` / HF cache
``videoprism-tags``       ``vp_tags``        ``videoprism.py``,          same; label bank ``VQA_VP_LABELS``
                                             ``concepts.py``
``whisper-large-v3``      ``asr``            ``asr_large.py``            ``VQA_WHISPER_MODEL_DIR`` / HF cache
``paddleocr``             ``ocr``            ``paddle_ocr.py``           ``VQA_PADDLEOCR_MODEL_DIR`` / PaddleX cache
========================  =================  ==========================  ====================================

Vector columns (``emb_clip``, ``emb_clap``, ``emb_videoprism``) are searched with the text tower of
the checkpoint that wrote them: each extractor declares ``query_columns`` and ``embed_query``, and
``vqa_pipeline.retrieval.retrievers`` pairs them with the model tags stored in the index.
All run on a GPU when one is visible (``VQA_DEVICE``), with per-model ``precision`` and
``batch_size`` options; Ray actors ask for the class attribute ``num_gpus``.

``common.py`` holds the shared weight lookup, device and precision helpers; ``testing.py`` builds
random-weight checkpoints laid out like users' downloads, for the tests and the GPU benchmark.
"""
