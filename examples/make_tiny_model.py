"""A tiny, randomly initialised chat model and a tokenizer trained on an export itself:
enough to check offline that a real SFT job reads a Quorum export and learns from it.

    python examples/make_tiny_model.py sft-42.jsonl ./tiny-model
    python examples/train_sft.py sft-42.jsonl --model ./tiny-model --epochs 3
"""

import json
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

data, out = sys.argv[1], sys.argv[2]
texts = []
with open(data) as handle:
    for line in handle:
        texts += [m["content"] for m in json.loads(line)["messages"]]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
special = ["<|endoftext|>", "<|pad|>", "<|user|>", "<|assistant|>", "<|system|>"]
tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=4000, special_tokens=special))
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>"
)
tokenizer.save_pretrained(out)
config = LlamaConfig(
    vocab_size=len(tokenizer), hidden_size=256, intermediate_size=704, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
    eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
)
LlamaForCausalLM(config).save_pretrained(out)
print("tiny model", sum(p.numel() for p in LlamaForCausalLM(config).parameters()), "params")
