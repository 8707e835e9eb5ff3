// Chat prompts (llama.cpp's built-in ChatML and Gemma paths) and their tokenization with SmolLM2's
// and Gemma-3's vocabularies.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "io/gguf.h"
#include "testing/test_paths.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

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

// The conversation and expected text of llama.cpp's tests/test-chat-template.cpp (case
// "google/gemma-7b-it", expected_output: its built-in path, add_generation_prompt = true): the
// system message moves into the first user turn, "assistant" becomes "model", contents are trimmed.
TEST(ChatTemplate, GemmaAsLlamaCppTestChatTemplate) {
  const std::vector<ChatMessage> conversation = {
      {"system", "You are a helpful assistant"},
      {"user", "Hello"},
      {"assistant", "Hi there"},
      {"user", "Who are you"},
      {"assistant", "   I am an assistant   "},
      {"user", "Another question"},
  };
  // gemma-7b-it's tokenizer.chat_template, as in that test.
  constexpr std::string_view kGemma7bTemplate =
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') "
      "}}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
      "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
      "user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') "
      "%}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ "
      "'<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% "
      "endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
  const std::string expected =
      "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>"
      "model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_"
      "turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother "
      "question<end_of_turn>\n<start_of_turn>model\n";
  for (std::string_view tmpl : {kGemma7bTemplate, std::string_view("gemma")}) {
    auto kind = DetectChatTemplate(tmpl);
    ASSERT_TRUE(kind.ok()) << kind.status().message();
    EXPECT_EQ(*kind, ChatTemplateKind::kGemma);
    auto prompt = ApplyChatTemplate(tmpl, conversation, true);
    ASSERT_TRUE(prompt.ok()) << prompt.status().message();
    EXPECT_EQ(*prompt, expected);
  }
}

// Edge cases of llama-chat.cpp's LLM_CHAT_TEMPLATE_GEMMA branch, read from its source: system
// texts are trimmed and concatenated with nothing between them; they wait for the next turn whose
// role is not "model"; with no such turn they are dropped; other roles are written as given.
TEST(ChatTemplate, GemmaSystemMessagesAsLlamaCpp) {
  const std::vector<ChatMessage> two_systems = {
      {"system", " Be brief. "}, {"system", "Be kind.\n"}, {"user", " Hi\n"}};
  auto a = ApplyChatTemplate("gemma", two_systems, false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "<start_of_turn>user\nBe brief.Be kind.\n\nHi<end_of_turn>\n");

  const std::vector<ChatMessage> system_after_model = {
      {"user", "Hi"}, {"system", "Be brief."}, {"assistant", "Hello"}, {"tool", "42"}};
  auto b = ApplyChatTemplate("gemma", system_after_model, true);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b,
            "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
            "<start_of_turn>tool\nBe brief.\n\n42<end_of_turn>\n<start_of_turn>model\n");

  const std::vector<ChatMessage> only_system = {{"system", "Be brief."}};
  auto c = ApplyChatTemplate("gemma", only_system, false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "");
}

// llama.cpp checks Mistral/Llama-2 ([INST]) before Gemma, so such a template is not Gemma.
TEST(ChatTemplate, FamiliesCheckedBeforeGemmaWin) {
  auto inst = DetectChatTemplate("[INST] {{ x }} [/INST]<start_of_turn>");
  ASSERT_FALSE(inst.ok());
  EXPECT_NE(inst.status().message().find("Llama-2"), std::string::npos) << inst.status().message();
  auto chatml = DetectChatTemplate("<|im_start|><start_of_turn>");  // <|im_start|> comes first
  ASSERT_TRUE(chatml.ok());
  EXPECT_EQ(*chatml, ChatTemplateKind::kChatml);
}

TEST(ChatTemplate, SmolLm2PromptTokenizesToControlTokens) {
  const std::filesystem::path model = testing::CachedModelPath("smollm2-135m-instruct-q4_1.gguf");
  SHRINK_SKIP_IF_MODEL_MISSING(model);
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

namespace shrink {
namespace {

TEST(ChatTemplate, GemmaPromptTokenizesToControlTokens) {
  const std::filesystem::path model = testing::CachedModelPath("gemma-3-270m-q4_k_m.gguf");
  SHRINK_SKIP_IF_MODEL_MISSING(model);
  auto file = GgufFile::Open(model.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = LoadGgufTokenizer(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  // Gemma-3 GGUFs carry no tokenizer.chat_template; the model loader names the family "gemma".
  const std::vector<ChatMessage> messages = {{"user", "Hi"}};
  auto prompt = ApplyChatTemplate("gemma", messages, true);
  ASSERT_TRUE(prompt.ok()) << prompt.status().message();
  // llama-tokenize -m gemma-3-270m-q4_k_m.gguf -p '<start_of_turn>user\nHi<end_of_turn>\n
  //   <start_of_turn>model\n' --ids --log-disable (one line; BOS added as the vocabulary asks)
  EXPECT_EQ((*tokenizer)->Encode(*prompt, true, true),
            (std::vector<TokenId>{2, 105, 2364, 107, 10979, 106, 107, 105, 4368, 107}));
  // Generation stops at <end_of_turn>.
  EXPECT_TRUE((*tokenizer)->IsEndOfGeneration(106));
}

}  // namespace
}  // namespace shrink
