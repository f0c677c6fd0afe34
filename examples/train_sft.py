"""Fine-tune a tiny causal language model on a Quorum ``sft`` export with TRL.

    python examples/consume_exports.py latest --project 1 --format sft --out exports
    python examples/train_sft.py exports/sft-42.jsonl --model ./tiny-model --out ./sft-out

Each export line is ``{"messages": [...], "metadata": {...}}``: the conversational
shape SFTTrainer reads directly. The model must already be on disk (or in the
local Hugging Face cache): this script makes no network calls. It needs a GPU
and the packages ``trl``, ``transformers``, ``torch`` and ``datasets``; it is
not part of the test suite.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="an sft export (.jsonl)")
    parser.add_argument("--model", required=True, help="a local path to a small causal LM")
    parser.add_argument("--out", default="sft-out")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not torch.cuda.is_available():
        raise SystemExit("no GPU: this example trains only on a CUDA device")
    dataset = load_dataset("json", data_files=args.data, split="train")
    dataset = dataset.remove_columns([c for c in dataset.column_names if c != "messages"])
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.chat_template is None:
        # A base model without a chat template: a plain, explicit one.
        tokenizer.chat_template = (
            "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16)
    config = SFTConfig(
        output_dir=args.out,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=2e-5,
        logging_steps=10,
        save_strategy="no",
        bf16=True,
        max_length=args.max_length,
        report_to=[],
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    result = trainer.train()
    trainer.save_model(args.out)
    print(f"trained on {len(dataset)} examples, final loss {result.training_loss:.4f}")


if __name__ == "__main__":
    main()
