// Chat prompts from a model's tokenizer.chat_template, as llama.cpp's built-in (non-Jinja) path
// (llama_chat_apply_template in llama-chat.cpp) does: the template text is only inspected to detect
// its family, never executed.
//
// Detection follows llama.cpp's llm_chat_detect_template, in its order: first the exact family
// names ("chatml", "gemma"), then substrings. Supported:
//   - ChatML: a template containing "<|im_start|>" that is neither Phi-4's (<|im_sep|>) nor
//     SmolVLM's (<end_of_utterance>). An empty template (the model has none) also means ChatML, as
//     llama.cpp's default when no template is given.
//   - Gemma: a template containing "<start_of_turn>", unless one of the families llama.cpp checks
//     before Gemma matched first (Mistral/Llama-2 "[INST]", Phi-3, GLM, Zephyr, Monarch ...).
// Any other family is an error naming what llama.cpp would detect.
//
// ChatML renders each message as "<|im_start|>{role}\n{content}<|im_end|>\n" and, with
// add_generation_prompt, appends "<|im_start|>assistant\n".
//
// Gemma renders each message as "<start_of_turn>{role}\n{trimmed content}<end_of_turn>\n", with
// role "assistant" written "model", and with add_generation_prompt appends
// "<start_of_turn>model\n". Gemma has no system role: system messages (trimmed, concatenated) are
// held back and written at the start of the next non-model turn, followed by "\n\n"; system text
// with no later user turn is dropped. Contents are trimmed of ASCII whitespace (isspace) at both
// ends, as llama.cpp's trim.
//
// Choice: SmolLM2's Jinja template would insert a default system message ("You are a helpful AI
// assistant named SmolLM, trained by Hugging Face") when the first message is not a system message.
// llama.cpp's built-in ChatML path does not, and neither do we, so prompts match llama.cpp's
// byte for byte; callers wanting that system message pass it as the first message.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace shrink {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

enum class ChatTemplateKind { kChatml, kGemma };

// Errors name the family llama.cpp would detect and the template (its first characters) when it
// is not a supported family.
Result<ChatTemplateKind> DetectChatTemplate(std::string_view template_text);

// The prompt text for `messages` (tokenize it with parse_special = true).
Result<std::string> ApplyChatTemplate(std::string_view template_text,
                                      std::span<const ChatMessage> messages,
                                      bool add_generation_prompt);

}  // namespace shrink
