// Chat prompts (llama.cpp's built-in ChatML path) and their tokenization with SmolLM2's vocabulary.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "io/gguf.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// SmolLM2-135M-Instruct's tokenizer.chat_template (beginning), which llama.cpp detects as ChatML.
constexpr std::string_view kSmolLm2Template =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

TEST(ChatTemplate, ChatmlAsLlamaCpp) {
  const std::vector<ChatMessage> messages = {{"user", "Hello"}};
  auto prompt = ApplyChatTemplate(kSmolLm2Template, messages, true);
  ASSERT_TRUE(prompt.ok()) << prompt.status().message();
  // No default system message: llama.cpp's ChatML path does not run the Jinja template.
  EXPECT_EQ(*prompt, "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");

  const std::vector<ChatMessage> two = {{"system", "Be brief."}, {"user", "Hi"}};
  auto no_gen = ApplyChatTemplate("chatml", two, false);
  ASSERT_TRUE(no_gen.ok());
  EXPECT_EQ(*no_gen, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_TRUE(ApplyChatTemplate("", two, true).ok());  // no template: ChatML, llama.cpp's default
}

TEST(ChatTemplate, UnsupportedTemplateIsNamed) {
  const std::vector<ChatMessage> messages = {{"user", "Hello"}};
  auto llama2 =
      ApplyChatTemplate("{{ bos_token }}[INST] {{ message['content'] }} [/INST]", messages, true);
  ASSERT_FALSE(llama2.ok());
  EXPECT_NE(llama2.status().message().find("[INST]"), std::string::npos)
      << llama2.status().message();
  auto phi4 = DetectChatTemplate("<|im_start|>user<|im_sep|>");
  ASSERT_FALSE(phi4.ok());
  EXPECT_NE(phi4.status().message().find("<|im_sep|>"), std::string::npos);
}

TEST(ChatTemplate, SmolLm2PromptTokenizesToControlTokens) {
  const char* home = std::getenv("HOME");
  const std::filesystem::path model = std::filesystem::path(home ? home : "/root") /
                                      ".cache/shrink/models/smollm2-135m-instruct-q4_1.gguf";
  SHRINK_SKIP_IF_MISSING(model);
  auto file = GgufFile::Open(model.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = LoadGgufTokenizer(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  auto tmpl = file->GetString("tokenizer.chat_template");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
  const std::vector<ChatMessage> messages = {{"user", "Hello"}};
  auto prompt = ApplyChatTemplate(*tmpl, messages, false);
  ASSERT_TRUE(prompt.ok()) << prompt.status().message();
  // Ids from llama.cpp's llama-tokenize (tests/oracles/data/smollm2_tokenizer_ids.txt, first case).
  EXPECT_EQ((*tokenizer)->Encode(*prompt, false, true),
            (std::vector<TokenId>{1, 4093, 198, 19556, 2, 198}));
}

}  // namespace
}  // namespace shrink
